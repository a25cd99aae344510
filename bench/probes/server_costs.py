"""Server CPU per workflow for the primitives an order is made of, on a dev server of your own.

What BENCHMARKS.md's "what limits" paragraph quotes: how much of the Temporal server's CPU a workflow start, a workflow
task, a timer, a local or ordinary activity, a signal, an update, a child and a search-attribute upsert cost, read from
/proc/<server pid>/stat around batches of N workflows (C in flight) of each shape, on one worker (the Python SDK, so
that nothing of order-host's is measured). Two rounds, so drift of the server's in-memory database shows.

    python3 -m venv /tmp/probe && /tmp/probe/bin/pip install temporalio==1.35.0
    scripts/temporal-dev.sh --port 7299 --ui-port 8299 --headless &
    /tmp/probe/bin/python bench/probes/server_costs.py <server pid> 7299 200 20
"""
import asyncio
import os
import sys
import time
import uuid
from datetime import timedelta
from temporalio import workflow, activity
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.common import SearchAttributeKey

KEY = SearchAttributeKey.for_keyword("OrderState")


@activity.defn
async def noop(x: str) -> str:
    return x


@workflow.defn
class Empty:
    @workflow.run
    async def run(self) -> str:
        return "ok"


@workflow.defn
class Upsert3:
    @workflow.run
    async def run(self) -> str:
        for s in ("a", "b", "c"):
            workflow.upsert_search_attributes([KEY.value_set(s)])
        return "ok"


@workflow.defn
class Timer1:
    @workflow.run
    async def run(self) -> str:
        await asyncio.sleep(0.001)
        return "ok"


@workflow.defn
class Local3:
    @workflow.run
    async def run(self) -> str:
        for i in range(3):
            await workflow.execute_local_activity(noop, "x", start_to_close_timeout=timedelta(seconds=5))
        return "ok"


@workflow.defn
class Remote1:
    @workflow.run
    async def run(self) -> str:
        await workflow.execute_activity(noop, "x", start_to_close_timeout=timedelta(seconds=5))
        return "ok"


@workflow.defn
class Waits:
    """Waits to be approved: by a signal or by an update, as the client chooses."""

    def __init__(self):
        self.go = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.go)
        return "ok"

    @workflow.signal
    def approve(self) -> None:
        self.go = True

    @workflow.update
    def approve_update(self) -> str:
        self.go = True
        return "yes"


@workflow.defn
class Child:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_child_workflow(Empty.run, id=workflow.info().workflow_id + "-c")


@workflow.defn
class Patched:
    @workflow.run
    async def run(self) -> str:
        workflow.patched("p1")
        return "ok"


def server_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


async def one(client, wf, queue, poke):
    wid = f"{wf.__name__}-{uuid.uuid4().hex[:10]}"
    h = await client.start_workflow(wf.run, id=wid, task_queue=queue)
    if poke == "signal":
        await h.signal(Waits.approve)
    elif poke == "update":
        await h.execute_update(Waits.approve_update)
    await h.result()


async def main():
    pid, port = int(sys.argv[1]), sys.argv[2]
    n, conc = int(sys.argv[3]), int(sys.argv[4])
    client = await Client.connect(f"127.0.0.1:{port}")
    queue = "probe-" + uuid.uuid4().hex[:6]
    shapes = [(Empty, None), (Upsert3, None), (Timer1, None), (Local3, None), (Remote1, None), (Waits, "signal"),
              (Waits, "update"), (Child, None), (Patched, None)]
    async with Worker(client, task_queue=queue, workflows=list({s for s, _ in shapes}), activities=[noop],
                      max_concurrent_workflow_tasks=100):
        for rnd in range(2):
            empty = None
            for wf, poke in shapes:
                sem = asyncio.Semaphore(conc)

                async def go():
                    async with sem:
                        await one(client, wf, queue, poke)

                c0, t0 = server_cpu(pid), time.time()
                await asyncio.gather(*[go() for _ in range(n)])
                c1, t1 = server_cpu(pid), time.time()
                per = 1000 * (c1 - c0) / n
                empty = per if empty is None else empty
                shape = wf.__name__ + ("/" + poke if poke else "")
                print(f"round {rnd} {shape:13} server_cpu_ms_per_wf={per:6.2f} over_empty={per - empty:6.2f} "
                      f"wf_per_s={n / (t1 - t0):6.1f}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
