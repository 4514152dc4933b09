/**
 * The databases the tests use: the machine's PostgreSQL, MariaDB and Redis, started when down
 * (scripts/setup.mjs does the same before a run), and a database of its own for each suite.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { Redis } from 'ioredis';
import { repoRoot } from '../../src/devenv/devenv-state.js';

export const POSTGRES_ADMIN_URL =
  process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const MYSQL_ADMIN_URL = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/mysql';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Makes sure PostgreSQL, MariaDB and Redis listen, starting the ones that do not. */
export async function ensureServices(): Promise<void> {
  const up = await Promise.all([5432, 3306, 6379].map(portOpen));
  if (up.every(Boolean)) return;
  execFileSync(process.execPath, [`${repoRoot()}/scripts/setup.mjs`, '--no-cluster', '--quiet'], {
    stdio: 'inherit',
  });
}

function uniqueName(prefix: string): string {
  return `t_${prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 30)}_${randomBytes(4).toString('hex')}`;
}

export async function createPostgresDatabase(prefix: string): Promise<TestDatabase> {
  await ensureServices();
  const name = uniqueName(prefix);
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export async function createMysqlDatabase(prefix: string): Promise<TestDatabase> {
  await ensureServices();
  const name = uniqueName(prefix);
  const admin = await mysql.createConnection(MYSQL_ADMIN_URL);
  try {
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await admin.end();
  }
  const url = new URL(MYSQL_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const c = await mysql.createConnection(MYSQL_ADMIN_URL);
      try {
        await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await c.end();
      }
    },
  };
}

export interface TestRedis {
  url: string;
  /** Every key a test writes should start with this prefix. */
  prefix: string;
  cleanup(): Promise<void>;
}

export async function useRedis(prefix: string): Promise<TestRedis> {
  await ensureServices();
  const keyPrefix = `test:${prefix}:${randomBytes(4).toString('hex')}:`;
  return {
    url: REDIS_URL,
    prefix: keyPrefix,
    async cleanup() {
      const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 2 });
      await r.connect();
      try {
        let cursor = '0';
        do {
          const [next, keys] = await r.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length) await r.del(...keys);
        } while (cursor !== '0');
      } finally {
        r.disconnect();
      }
    },
  };
}
