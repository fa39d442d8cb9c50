// The lab page: for each lesson, the switch of its defence, a "Try it" that
// runs the attack against this server (the server plays both the victim and
// the attacker over real HTTP, POST /api/lab/attacks/<switch>) and shows each
// step, and the lines of code that defend. Every value from the server is
// set with textContent.

import { api, describeFailure } from './api.js';
import { $, all } from './dom.js';

/**
 * @typedef {object} DefenceSite  Where a defence happens, from GET /api/lab.
 * @property {string} file
 * @property {number} line  The line that reads the switch.
 * @property {{line: number, text: string}[]} excerpt
 */

/**
 * @typedef {object} LabStatus  GET /api/lab and PUT /api/lab.
 * @property {Record<string, boolean>} switches  true = defended.
 * @property {Record<string, DefenceSite>} sites
 */

/**
 * @typedef {object} AttackReport  POST /api/lab/attacks/<switch>.
 * @property {boolean} worked
 * @property {string[]} steps
 * @property {string} verdict  "the attack worked" or "the attack was stopped by …".
 */

const labError = $('lab-error');

/** @param {string} message */
function showError(message) {
  labError.textContent = message;
  labError.hidden = false;
}

/**
 * controls draws a lesson's switch, its "Try it", the place for the
 * attack's steps and the code that defends, into its .lab-controls block.
 * @param {HTMLElement} block
 * @param {string} name  The switch.
 * @param {DefenceSite | undefined} site
 */
function controls(block, name, site) {
  const toggle = document.createElement('p');
  toggle.className = 'switch';
  const input = document.createElement('input');
  input.type = 'checkbox';
  input.id = `switch-${name}`;
  input.dataset.switch = name;
  const label = document.createElement('label');
  label.htmlFor = input.id;
  const code = document.createElement('code');
  code.textContent = name;
  const state = document.createElement('span');
  state.id = `state-${name}`;
  state.className = 'switch-state';
  label.append('Defence ', code, ' ', state);
  toggle.append(input, ' ', label);
  input.addEventListener('change', () => void setSwitch(name, input.checked));

  const tryButton = document.createElement('button');
  tryButton.type = 'button';
  tryButton.className = 'button primary';
  tryButton.id = `try-${name}`;
  tryButton.textContent = 'Try it';
  tryButton.addEventListener('click', () => void tryAttack(name, tryButton));

  const steps = document.createElement('ol');
  steps.id = `steps-${name}`;
  steps.className = 'attack-steps';
  const verdict = document.createElement('p');
  verdict.id = `verdict-${name}`;
  verdict.className = 'attack-verdict';
  verdict.setAttribute('role', 'status');

  const terminal = document.createElement('p');
  terminal.className = 'small';
  const command = document.createElement('code');
  command.textContent = `npm run attack -- ${name}`;
  terminal.append('From a terminal: ', command);

  block.append(toggle, tryButton, steps, verdict, terminal);
  if (site !== undefined) block.append(siteBlock(name, site));
}

/**
 * siteBlock shows the lines that defend, the one reading the switch marked.
 * @param {string} name
 * @param {DefenceSite} site
 * @returns {HTMLElement}
 */
function siteBlock(name, site) {
  const wrapper = document.createElement('div');
  wrapper.className = 'defence-site';
  const heading = document.createElement('p');
  const link = document.createElement('a');
  link.href = `/lab/source/${name}`;
  link.id = `site-${name}`;
  link.textContent = `${site.file}:${site.line}`;
  heading.append('The code that defends, ', link, ':');
  const pre = document.createElement('pre');
  pre.className = 'code';
  for (const { line, text } of site.excerpt) {
    const row = document.createElement('span');
    row.className = line === site.line ? 'code-line marked' : 'code-line';
    row.textContent = `${String(line).padStart(4)}  ${text}\n`;
    pre.append(row);
  }
  wrapper.append(heading, pre);
  return wrapper;
}

/** @param {Record<string, boolean>} switches */
function showSwitches(switches) {
  for (const input of all('input[data-switch]', HTMLInputElement)) {
    const name = input.dataset.switch ?? '';
    const on = switches[name] !== false;
    input.checked = on;
    $(`state-${name}`).textContent = on ? 'is on' : 'is OFF';
    input.closest('.lesson')?.classList.toggle('weakened', !on);
  }
}

/**
 * @param {string} name
 * @param {boolean} on
 */
async function setSwitch(name, on) {
  const result = await api('/api/lab', { method: 'PUT', body: { [name]: on } });
  if (result.status !== 200) {
    showError(describeFailure(result));
    return;
  }
  labError.hidden = true;
  showSwitches(/** @type {LabStatus} */ (result.body).switches);
}

/**
 * @param {string} name
 * @param {HTMLButtonElement} button
 */
async function tryAttack(name, button) {
  const steps = $(`steps-${name}`);
  const verdict = $(`verdict-${name}`);
  steps.replaceChildren();
  verdict.textContent = 'Running the attack…';
  verdict.className = 'attack-verdict';
  button.disabled = true;
  const result = await api(`/api/lab/attacks/${name}`, { method: 'POST' });
  button.disabled = false;
  if (result.status !== 200) {
    verdict.textContent = `The attack could not run: ${describeFailure(result)}`;
    return;
  }
  const report = /** @type {AttackReport} */ (result.body);
  for (const step of report.steps) {
    const item = document.createElement('li');
    item.textContent = step;
    steps.append(item);
  }
  verdict.textContent = report.verdict;
  verdict.className = `attack-verdict ${report.worked ? 'worked' : 'stopped'}`;
}

async function start() {
  const result = await api('/api/lab');
  if (result.status !== 200) {
    showError(describeFailure(result));
    return;
  }
  const status = /** @type {LabStatus} */ (result.body);
  for (const block of all('.lab-controls', HTMLElement)) {
    const name = block.dataset.switch ?? '';
    controls(block, name, status.sites[name]);
  }
  showSwitches(status.switches);
}

// The "injected" script of the http-only lesson: what an attacker's script would read.
$('injected-run').addEventListener('click', () => {
  $('injected-output').textContent = document.cookie === '' ? '"" (nothing: no cookie a script may read)' : document.cookie;
});
// A cookie's flags are set when it is sent: sign out, then start a guest session, for a cookie sent under the switch as it is now.
$('injected-fresh').addEventListener('click', () => {
  void (async () => {
    await api('/logout', { method: 'POST' });
    const result = await api('/api/cart', { method: 'POST', body: { item: 'lab coat' } });
    $('injected-output').textContent = result.status === 200 ? '(a new guest session started: run the script)' : describeFailure(result);
  })();
});

void start();
