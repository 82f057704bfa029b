// Talking to Edgewise: Home Assistant's login flow and tokens, REST, and the WebSocket API.

const STORE_KEY = "edgewise.auth";
export const CLIENT_ID = `${location.origin}/`;

/** An error the API answered (its message is the server's). */
export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

async function jsonOrThrow(response) {
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const message = (body && (body.message || body.error_description || body.error)) || body;
    throw new ApiError(String(message || response.statusText), response.status);
  }
  return body;
}

// --- tokens --------------------------------------------------------------------------------------

export const auth = {
  tokens: JSON.parse(localStorage.getItem(STORE_KEY) || "null"),

  get loggedIn() { return Boolean(this.tokens?.refresh_token); },

  save(tokens) {
    this.tokens = tokens;
    if (tokens) localStorage.setItem(STORE_KEY, JSON.stringify(tokens));
    else localStorage.removeItem(STORE_KEY);
  },

  /** Exchange a login or onboarding code for tokens. */
  async useCode(code) {
    const body = new URLSearchParams({ grant_type: "authorization_code", code, client_id: CLIENT_ID });
    const data = await jsonOrThrow(await fetch("/auth/token", { method: "POST", body }));
    this.save({ ...data, expires: Date.now() + data.expires_in * 1000 });
  },

  /** A valid access token, refreshed when it is about to expire. */
  async accessToken() {
    if (!this.tokens) throw new ApiError("Not logged in", 401);
    if (Date.now() > this.tokens.expires - 60_000) await this.refresh();
    return this.tokens.access_token;
  },

  async refresh() {
    const body = new URLSearchParams({
      grant_type: "refresh_token", refresh_token: this.tokens.refresh_token, client_id: CLIENT_ID,
    });
    const response = await fetch("/auth/token", { method: "POST", body });
    if (response.status === 400) {
      this.save(null);
      throw new ApiError("Your session has ended: log in again", 401);
    }
    const data = await jsonOrThrow(response);
    this.save({ ...this.tokens, ...data, expires: Date.now() + data.expires_in * 1000 });
  },

  async logout() {
    if (this.tokens) {
      const body = new URLSearchParams({ action: "revoke", token: this.tokens.refresh_token });
      await fetch("/auth/token", { method: "POST", body }).catch(() => {});
    }
    this.save(null);
  },
};

/** Whether the owner still has to be created. */
export async function needsOnboarding() {
  const steps = await jsonOrThrow(await fetch("/api/onboarding"));
  return steps.some((step) => step.step === "user" && !step.done);
}

/** Create the owner (first start), then log in as them. */
export async function onboard(name, username, password) {
  const response = await fetch("/api/onboarding/users", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ client_id: CLIENT_ID, name, username, password, language: "en" }),
  });
  const { auth_code: code } = await jsonOrThrow(response);
  await auth.useCode(code);
}

/** Log in through Home Assistant's login flow. */
export async function login(username, password) {
  const post = (url, data) => fetch(url, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data),
  }).then(jsonOrThrow);
  const flow = await post("/auth/login_flow", {
    client_id: CLIENT_ID, handler: ["homeassistant", null], redirect_uri: CLIENT_ID,
  });
  const step = await post(`/auth/login_flow/${flow.flow_id}`, { client_id: CLIENT_ID, username, password });
  if (step.type !== "create_entry") throw new ApiError("Wrong user name or password", 401);
  await auth.useCode(step.result);
}

/** An authenticated REST call; answers the JSON (or text) body. A refused token is refreshed once. */
export async function rest(method, path, data) {
  const call = async () => {
    const headers = { Authorization: `Bearer ${await auth.accessToken()}` };
    const init = { method, headers };
    if (data !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(data);
    }
    return fetch(path, init);
  };
  let response = await call();
  if (response.status === 401 && auth.loggedIn) {
    await auth.refresh();
    response = await call();
  }
  return jsonOrThrow(response);
}

// --- WebSocket -----------------------------------------------------------------------------------

/**
 * The WebSocket API connection: commands answer promises, subscriptions call back, and the
 * connection comes back by itself (subscriptions are made again) after the server restarts.
 */
export class Connection extends EventTarget {
  constructor() {
    super();
    this.nextId = 1;
    this.pending = new Map();
    this.subscriptions = new Map(); // id → {message, callback}
    this.socket = null;
    this.connected = false;
    this.retry = 0;
    this.closed = false;
  }

  /**
   * Connect and authenticate. A token the server refuses (stale, expired) is refreshed once
   * with the refresh token and tried again; only a refresh the server refuses ends the session.
   */
  async connect() {
    try {
      await this.open(await auth.accessToken());
    } catch (err) {
      if (err.code !== 401 || !auth.loggedIn) throw err;
      await auth.refresh();
      await this.open(auth.tokens.access_token);
    }
    this.connected = true;
    this.retry = 0;
    this.send({ type: "supported_features", features: { coalesce_messages: 1 } });
    const previous = [...this.subscriptions.values()];
    this.subscriptions.clear();
    for (const sub of previous) this.subscribe(sub.message, sub.callback, sub);
    this.dispatchEvent(new Event("connected"));
  }

  async open(token) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/websocket`);
    this.socket = socket;
    await new Promise((resolve, reject) => {
      socket.onmessage = (event) => {
        const msg = JSON.parse(event.data);
        if (msg.type === "auth_required") {
          socket.send(JSON.stringify({ type: "auth", access_token: token }));
        } else if (msg.type === "auth_ok") {
          socket.onmessage = (e) => this.receive(e.data);
          resolve();
        } else if (msg.type === "auth_invalid") {
          reject(new ApiError(msg.message || "Authentication failed", 401));
        }
      };
      socket.onclose = () => reject(new ApiError("Connection lost", 0));
    });
    socket.onclose = () => this.lost();
  }

  receive(text) {
    const data = JSON.parse(text);
    for (const msg of Array.isArray(data) ? data : [data]) {
      if (msg.type === "event") {
        this.subscriptions.get(msg.id)?.callback(msg.event);
      } else if (msg.type === "result" || msg.type === "pong") {
        const waiting = this.pending.get(msg.id);
        if (!waiting) continue;
        this.pending.delete(msg.id);
        if (msg.type === "pong" || msg.success) waiting.resolve(msg.result);
        else waiting.reject(new ApiError(msg.error?.message || "Command failed", msg.error?.code));
      }
    }
  }

  lost() {
    this.connected = false;
    for (const waiting of this.pending.values()) waiting.reject(new ApiError("Connection lost", 0));
    this.pending.clear();
    this.dispatchEvent(new Event("disconnected"));
    if (this.closed) return;
    // A restart takes a few seconds: try every ~300 ms for a while, then back off.
    const step = this.retry++;
    const base = step < 15 ? 300 : Math.min(30_000, 300 * 1.5 ** (step - 15));
    const delay = base * (0.75 + Math.random() / 2);
    setTimeout(() => this.connect().catch((err) => {
      if (err.code === 401 && !auth.loggedIn) this.dispatchEvent(new Event("logout"));
      else this.lost();
    }), delay);
  }

  send(message) {
    const id = this.nextId++;
    this.socket.send(JSON.stringify({ ...message, id }));
    return id;
  }

  /** Run a command; answers its result or throws its error. */
  command(message) {
    if (!this.connected) return Promise.reject(new ApiError("Not connected", 0));
    return new Promise((resolve, reject) => {
      const id = this.send(message);
      this.pending.set(id, { resolve, reject });
    });
  }

  /** Subscribe (subscribe_entities, subscribe_events…); answers a function that unsubscribes. */
  subscribe(message, callback, handle = {}) {
    handle.message = message;
    handle.callback = callback;
    if (this.connected) {
      handle.id = this.send(message);
      this.subscriptions.set(handle.id, handle);
    }
    return () => {
      this.subscriptions.delete(handle.id);
      if (this.connected) this.command({ type: "unsubscribe_events", subscription: handle.id }).catch(() => {});
    };
  }

  callService(domain, service, data = {}, target = undefined) {
    return this.command({ type: "call_service", domain, service, service_data: data, target });
  }

  close() {
    this.closed = true;
    this.socket?.close();
  }
}
