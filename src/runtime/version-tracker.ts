/**
 * The last resourceVersion this process wrote per key (Argo Rollouts' version tracker).
 *
 * After a controller writes an object (its status, a finalizer), the informer's cache holds the
 * older version until the watch delivers the write. A sync started from that older copy would
 * decide again what was already decided (resume a run that has finished, send its Event twice).
 * The controller records the resourceVersion of each write here and does not sync a key while the
 * cached copy is older than it.
 *
 * resourceVersions are opaque to clients, but every API server backed by etcd serves them as the
 * etcd revision, an increasing integer; that is what Argo Rollouts and controller-runtime users
 * compare as well. When either version is not an integer, the copy is never called stale (no
 * sync is ever held back on a guess).
 */

function asRevision(rv: string | undefined): bigint | undefined {
  return rv !== undefined && /^\d{1,30}$/.test(rv) ? BigInt(rv) : undefined;
}

export class VersionTracker {
  private readonly written = new Map<string, bigint>();

  /** Records a write of `key` that produced `resourceVersion` (older writes are ignored). */
  record(key: string, resourceVersion: string | undefined): void {
    const rv = asRevision(resourceVersion);
    if (rv === undefined) return;
    const old = this.written.get(key);
    if (old === undefined || rv > old) this.written.set(key, rv);
  }

  /** True when a cached copy at `resourceVersion` is older than this process's last write. */
  isStale(key: string, resourceVersion: string | undefined): boolean {
    const last = this.written.get(key);
    const rv = asRevision(resourceVersion);
    return last !== undefined && rv !== undefined && rv < last;
  }

  /** The cache has caught up with (or passed) every write: the entry is no longer needed. */
  caughtUp(key: string, resourceVersion: string | undefined): boolean {
    const last = this.written.get(key);
    const rv = asRevision(resourceVersion);
    if (last === undefined || rv === undefined) return true;
    if (rv < last) return false;
    this.written.delete(key);
    return true;
  }

  forget(key: string): void {
    this.written.delete(key);
  }

  get size(): number {
    return this.written.size;
  }
}
