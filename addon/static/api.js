// Talking to the service. Every URL is relative, so the panel works under any ingress path.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(path, { method = 'GET', json, form } = {}) {
  const options = { method, headers: {} };
  if (json !== undefined) {
    options.headers['Content-Type'] = 'application/json';
    options.body = JSON.stringify(json);
  } else if (form !== undefined) {
    options.body = form;
  }
  const response = await fetch(path, options);
  const type = response.headers.get('Content-Type') || '';
  const body = type.includes('application/json') ? await response.json() : await response.text();
  if (!response.ok) {
    const message = body && body.error ? body.error : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message);
  }
  return body;
}

// The websocket for live updates; reconnects with a growing delay.
export function connectLive(onMessage, onState) {
  let delay = 1000;
  let socket;
  const open = () => {
    const url = new URL('api/ws', document.baseURI);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(url);
    socket.onopen = () => { delay = 1000; onState(true); };
    socket.onmessage = (event) => {
      if (event.data === 'pong') return;
      onMessage(JSON.parse(event.data));
    };
    socket.onclose = () => {
      onState(false);
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 30000);
    };
  };
  open();
  return () => socket && socket.close();
}
