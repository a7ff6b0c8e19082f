import type { TestProject } from "vitest/node";

import { startPostgresCluster, type PostgresCluster } from "./postgres-cluster";

declare module "vitest" {
  export interface ProvidedContext {
    /** A server on which each test file creates its own database. */
    postgresUrl: string;
  }
}

let cluster: PostgresCluster | undefined;

/**
 * The PostgreSQL server of the `postgres` project: TEST_POSTGRES_URL when
 * set, otherwise a throwaway cluster for the length of the run.
 */
export async function setup(project: TestProject): Promise<void> {
  const given = process.env.TEST_POSTGRES_URL?.trim();
  if (given) {
    project.provide("postgresUrl", given);
    return;
  }
  cluster = await startPostgresCluster();
  // An interrupted run (Ctrl-C) exits without teardown: the cluster, a
  // process of its own, would outlive it.
  process.once("exit", stopAtExit);
  project.provide("postgresUrl", cluster.url);
}

function stopAtExit() {
  cluster?.stopSync();
  cluster = undefined;
}

export async function teardown(): Promise<void> {
  process.off("exit", stopAtExit);
  await cluster?.stop();
  cluster = undefined;
}
