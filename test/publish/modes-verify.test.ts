import { describe, expect, it } from 'vitest';
import { verifyPullRequest, type PullRequestInfo, type TriggeringRun } from '../../src/publish/modes/collect.js';
import type { ArtifactContext } from '../../src/publish/untrusted.js';

const HEAD = 'a'.repeat(40);
const context = (over: Partial<ArtifactContext> = {}): ArtifactContext => ({
  kind: 'modelgate-context', version: 1, key: 'k', mode: 'measure', config: 'modelgate.yml', event: 'pull_request',
  pull_request: 17, head_sha: HEAD, base_sha: null, run_id: 1, runner: { os: 'Linux', arch: 'X64', name: 'r' }, ...over,
});
const run = (over: Partial<TriggeringRun> = {}): TriggeringRun => ({ id: 5, event: 'pull_request', head_sha: HEAD, head_repository: { full_name: 'fork/models' }, pull_requests: [], ...over });
const pr = (over: Partial<PullRequestInfo> = {}): PullRequestInfo => ({ number: 17, state: 'open', head: { sha: HEAD, repo: { full_name: 'fork/models' } }, ...over });

describe('verifyPullRequest', () => {
  it("believes a PR listed in the run's pull_requests, without asking the API", async () => {
    let asked = false;
    const verdict = await verifyPullRequest(context(), run({ pull_requests: [{ number: 17 }] }), async () => ((asked = true), pr()));
    expect(verdict).toEqual({ ok: true, number: 17 });
    expect(asked).toBe(false);
  });

  it("for a fork (empty pull_requests) believes a PR whose head is the run's commit in the run's head repository", async () => {
    expect(await verifyPullRequest(context(), run(), async () => pr())).toEqual({ ok: true, number: 17 });
    expect(await verifyPullRequest(context(), run(), async () => pr({ head: { sha: HEAD, repo: { full_name: 'someone-else/models' } } }))).toMatchObject({ ok: false, reason: expect.stringContaining('comes from someone-else/models') });
    expect(await verifyPullRequest(context(), run(), async () => undefined)).toMatchObject({ ok: false, reason: 'PR #17 does not exist' });
  });

  it('refuses a missing context, a push run, another commit, and a PR the run does not list', async () => {
    const lookup = async () => pr();
    expect(await verifyPullRequest(undefined, run(), lookup)).toMatchObject({ ok: false });
    expect(await verifyPullRequest(context({ pull_request: null }), run(), lookup)).toMatchObject({ ok: false, reason: expect.stringContaining('names no pull request') });
    expect(await verifyPullRequest(context(), run({ event: 'push' }), lookup)).toMatchObject({ ok: false, reason: expect.stringContaining('push event') });
    expect(await verifyPullRequest(context({ head_sha: 'b'.repeat(40) }), run(), lookup)).toMatchObject({ ok: false, reason: expect.stringContaining('measured bbbb') });
    expect(await verifyPullRequest(context(), run({ pull_requests: [{ number: 3 }] }), lookup)).toMatchObject({ ok: false, reason: 'PR #17 is not among the triggering run\'s pull requests (#3)' });
    expect(await verifyPullRequest(context(), run(), async () => { throw new Error('HTTP 500'); })).toMatchObject({ ok: false, reason: expect.stringContaining('could not look up PR #17: HTTP 500') });
  });
});

describe('action.yml', () => {
  it('parses, and declares the mode and check-run inputs with the defaults the action assumes', async () => {
    const { readFileSync } = await import('node:fs');
    const { parse } = await import('yaml');
    const { MODES } = await import('../../src/publish/modes/shared.js');
    const action = parse(readFileSync(new URL('../../action.yml', import.meta.url), 'utf8')) as { inputs: Record<string, { default?: string; description: string }> };
    expect(action.inputs.mode!.default).toBe('auto');
    for (const mode of MODES) expect(action.inputs.mode!.description).toContain(mode);
    expect(action.inputs['check-run']!.default).toBe('false');
    expect(action.inputs['report-key']!.default).toBe('');
  });
});
