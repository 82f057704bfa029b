// Every entity's state, kept live from subscribe_entities' compressed messages.

function expand(entityId, c) {
  const context = typeof c.c === "string" ? { id: c.c, parent_id: null, user_id: null } : c.c;
  return {
    entity_id: entityId,
    state: c.s,
    attributes: c.a || {},
    context,
    last_changed: c.lc,
    last_updated: c.lu ?? c.lc,
  };
}

/**
 * The states, and listeners told (at most once per animation frame) which entities changed
 * and whether the set of entities itself changed.
 */
export class EntityStore {
  constructor(conn) {
    this.conn = conn;
    this.states = new Map();
    this.listeners = new Set();
    this.changed = new Set();
    this.membership = false;
    this.scheduled = false;
    this.ready = false;
    this.resync = false;
    this.unsubscribe = null;
  }

  start() {
    this.unsubscribe = this.conn.subscribe({ type: "subscribe_entities" }, (event) => this.apply(event));
    // After a reconnect the server sends every state again: the states known so far stay shown
    // until that full set replaces them (no blank page, no "does not exist" in between).
    this.conn.addEventListener("connected", () => { this.resync = true; });
  }

  apply(event) {
    const { changed } = this;
    if (event.a && this.resync) {
      this.resync = false;
      for (const id of this.states.keys()) if (!(id in event.a)) changed.add(id);
      this.states = new Map();
      this.membership = true;
    }
    const { states } = this;
    if (event.a) {
      for (const [id, c] of Object.entries(event.a)) {
        if (!states.has(id)) this.membership = true;
        states.set(id, expand(id, c));
        changed.add(id);
      }
      this.ready = true;
    }
    if (event.c) {
      for (const [id, diff] of Object.entries(event.c)) {
        const old = states.get(id);
        if (!old) continue;
        const next = { ...old };
        const plus = diff["+"];
        if (plus) {
          if ("s" in plus) next.state = plus.s;
          if ("lc" in plus) { next.last_changed = plus.lc; next.last_updated = plus.lc; }
          if ("lu" in plus) next.last_updated = plus.lu;
          if ("c" in plus) {
            next.context = typeof plus.c === "string" ? { id: plus.c, parent_id: null, user_id: null } : plus.c;
          }
          if (plus.a) next.attributes = { ...old.attributes, ...plus.a };
        }
        const removed = diff["-"]?.a;
        if (removed) {
          next.attributes = { ...next.attributes };
          for (const key of removed) delete next.attributes[key];
        }
        states.set(id, next);
        changed.add(id);
      }
    }
    if (event.r) {
      for (const id of event.r) {
        states.delete(id);
        changed.add(id);
        this.membership = true;
      }
    }
    this.schedule();
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    const flush = () => {
      this.scheduled = false;
      const changed = this.changed;
      const membership = this.membership;
      this.changed = new Set();
      this.membership = false;
      for (const listener of this.listeners) listener(changed, membership);
    };
    // A hidden tab gets no animation frames: flush on a timer instead.
    if (document.hidden) setTimeout(flush, 250);
    else requestAnimationFrame(flush);
  }

  /** Call `listener(changedIds, membershipChanged)` after changes; answers the remover. */
  listen(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(entityId) {
    return this.states.get(entityId);
  }
}
