import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

// A timing attack needs thousands of precise measurements; no test over
// HTTP can see `timingSafeEqual` swapped for `Buffer.equals`, which gives
// the same answers, only faster when the first bytes differ. So this test
// reads the source of the password check instead, through TypeScript's own
// parser: comments and strings cannot fool it.

const PASSWORDS_FILE = fileURLToPath(new URL('../../lib/auth/passwords.ts', import.meta.url));
const EQUALITY = new Set([
  ts.SyntaxKind.EqualsEqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsEqualsToken,
  ts.SyntaxKind.EqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsToken,
]);
/** Methods that compare two buffers or strings byte by byte, stopping at the first difference. */
const EARLY_EXIT_COMPARISONS = new Set(['equals', 'compare', 'localeCompare']);

async function parsePasswords(): Promise<ts.SourceFile> {
  return ts.createSourceFile(PASSWORDS_FILE, await readFile(PASSWORDS_FILE, 'utf8'), ts.ScriptTarget.Latest, true);
}

/** nodesUnder lists every node below `root`, depth first. */
function nodesUnder(root: ts.Node): ts.Node[] {
  const nodes: ts.Node[] = [];
  const visit = (node: ts.Node): void => {
    nodes.push(node);
    ts.forEachChild(node, visit);
  };
  ts.forEachChild(root, visit);
  return nodes;
}

function verifyMethod(source: ts.SourceFile): ts.MethodDeclaration {
  const method = nodesUnder(source).find(
    (node): node is ts.MethodDeclaration => ts.isMethodDeclaration(node) && node.name.getText(source) === 'verify',
  );
  assert.ok(method?.body !== undefined, 'passwords.ts has a verify method');
  return method;
}

/** isHarmless: comparing two lengths, or a value with null, reveals nothing about the bytes of a hash. */
function isHarmless(comparison: ts.BinaryExpression): boolean {
  const isNull = (node: ts.Expression) => node.kind === ts.SyntaxKind.NullKeyword;
  const isLength = (node: ts.Expression) => ts.isPropertyAccessExpression(node) && node.name.text === 'length';
  const { left, right } = comparison;
  return isNull(left) || isNull(right) || (isLength(left) && isLength(right));
}

describe('password comparison: the stored hash is compared in constant time', () => {
  it('imports timingSafeEqual from node:crypto under its own name', async () => {
    const source = await parsePasswords();
    const fromCrypto = source.statements.filter(
      (statement): statement is ts.ImportDeclaration =>
        ts.isImportDeclaration(statement) && (statement.moduleSpecifier as ts.StringLiteral).text === 'node:crypto',
    );
    const names = fromCrypto.flatMap((statement) => {
      const bindings = statement.importClause?.namedBindings;
      return bindings !== undefined && ts.isNamedImports(bindings) ? bindings.elements : [];
    });
    const imported = names.find((element) => element.name.text === 'timingSafeEqual');
    assert.ok(imported !== undefined, 'timingSafeEqual is imported from node:crypto');
    assert.equal(imported.propertyName, undefined, 'and is not another function renamed');
  });

  it('decides the answer of verify with timingSafeEqual', async () => {
    const source = await parsePasswords();
    const returns = nodesUnder(verifyMethod(source).body!).filter(ts.isReturnStatement);
    const decidedBy = (node: ts.Node): boolean =>
      ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'timingSafeEqual';
    assert.ok(returns.length > 0, 'verify returns an answer');
    for (const statement of returns) {
      assert.ok(nodesUnder(statement).some(decidedBy), `every answer goes through timingSafeEqual: ${statement.getText(source)}`);
    }
  });

  it('compares nothing in verify with ===, !==, == or != but lengths and null', async () => {
    const source = await parsePasswords();
    const comparisons = nodesUnder(verifyMethod(source).body!).filter(
      (node): node is ts.BinaryExpression => ts.isBinaryExpression(node) && EQUALITY.has(node.operatorToken.kind),
    );
    assert.ok(comparisons.length > 0, 'the check of lengths and of null is found, so the search works');
    for (const comparison of comparisons) assert.ok(isHarmless(comparison), `verify compares: ${comparison.getText(source)}`);
  });

  it('calls no equals, compare or localeCompare anywhere in passwords.ts', async () => {
    const source = await parsePasswords();
    const calls = nodesUnder(source).filter(
      (node): node is ts.CallExpression =>
        ts.isCallExpression(node) &&
        ts.isPropertyAccessExpression(node.expression) &&
        EARLY_EXIT_COMPARISONS.has(node.expression.name.text),
    );
    assert.deepEqual(
      calls.map((call) => call.getText(source)),
      [],
    );
  });
});
