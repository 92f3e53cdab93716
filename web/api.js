// Calls to Kiln's HTTP API with the function key in the x-functions-key header (never in the URL).

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export function api(key, onUnauthorized) {
  const base = location.pathname.replace(/dashboard\/?$/, '');
  async function call(method, path, body) {
    const headers = { 'x-functions-key': key, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    const value = text ? JSON.parse(text) : undefined;
    if (response.status === 401) onUnauthorized();
    if (!response.ok) throw new ApiError(response.status, value);
    return value;
  }
  const id = (value) => encodeURIComponent(value);
  return {
    builds: (status) => call('GET', `builds?limit=100${status ? `&status=${id(status)}` : ''}`),
    build: (runId) => call('GET', `builds/${id(runId)}`),
    timeline: (runId) => call('GET', `builds/${id(runId)}/timeline`),
    logs: (runId, cursor) => call('GET', `builds/${id(runId)}/logs${cursor ? `?cursor=${id(cursor)}` : ''}`),
    approve: (runId) => call('POST', `builds/${id(runId)}/approve`, { by: 'dashboard' }),
    cancel: (runId) => call('POST', `builds/${id(runId)}/cancel`),
    retry: (runId) => call('POST', `builds/${id(runId)}/retry`, {}),
    templates: () => call('GET', 'templates?limit=500'),
    template: (name) => call('GET', `templates/${id(name)}`),
    schedules: () => call('GET', 'schedules'),
  };
}
