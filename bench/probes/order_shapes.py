"""Server CPU per order for order-shaped workflows, side by side on one dev server (what BENCHMARKS.md quotes for the
commit timer and the patch markers): the seed's shape (six ordinary activities, the approval as a signal) against ours
(local steps, the approval as an update, a shipping child) with and without each extra — `u` the three `OrderState`
upserts, `t` the child's 1 ms commit timer before its dispatch, `p` a patch marker in parent and child. Shapes run
interleaved, round after round, so the dev server's drift as its in-memory store fills spreads over all of them.

    python3 -m venv /tmp/probe && /tmp/probe/bin/pip install temporalio==1.35.0
    scripts/temporal-dev.sh --port 7299 --ui-port 8299 --headless &
    /tmp/probe/bin/python bench/probes/order_shapes.py <server pid> 7299 150 20 3 upt,ut,u,seed
"""
import asyncio, os, sys, time, uuid
from datetime import timedelta
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker
# The probe beside this one: its no-op activity and its reading of the server's CPU time.
from server_costs import KEY, noop, server_cpu  # noqa: E402
LA = dict(start_to_close_timeout=timedelta(seconds=5))

@workflow.defn
class Ship:
    @workflow.run
    async def run(self, mode: str) -> str:
        if "p" in mode:
            workflow.patched("committed-dispatch")
        await workflow.execute_local_activity(noop, "prepare", **LA)
        if "t" in mode:
            await asyncio.sleep(0.001)
        await workflow.execute_local_activity(noop, "dispatch", **LA)
        await workflow.execute_local_activity(noop, "ship", **LA)
        return "ok"

@workflow.defn
class Order:
    def __init__(self):
        self.go = False
    @workflow.run
    async def run(self, mode: str) -> str:
        if "p" in mode:
            workflow.patched("delegated-dispatch")
        await workflow.execute_local_activity(noop, "receive", **LA)
        await workflow.execute_local_activity(noop, "validate", **LA)
        if "u" in mode:
            workflow.upsert_search_attributes([KEY.value_set("awaiting_approval")])
        try:
            await workflow.wait_condition(lambda: self.go, timeout=10)
        except asyncio.TimeoutError:
            pass
        await workflow.execute_local_activity(noop, "charge", **LA)
        if "u" in mode:
            workflow.upsert_search_attributes([KEY.value_set("shipping")])
        await workflow.execute_child_workflow(Ship.run, mode, id=workflow.info().workflow_id + "-s", task_queue=workflow.info().task_queue + "-s")
        if "u" in mode:
            workflow.upsert_search_attributes([KEY.value_set("shipped")])
        return "ok"
    @workflow.update
    def approve(self) -> str:
        self.go = True
        return "yes"
    @workflow.signal
    def approve_order(self) -> None:
        self.go = True

@workflow.defn
class SeedShip:
    @workflow.run
    async def run(self) -> str:
        for s in ("prepare", "dispatch", "ship"):
            await workflow.execute_activity(noop, s, start_to_close_timeout=timedelta(seconds=5))
        return "ok"

@workflow.defn
class SeedOrder:
    def __init__(self):
        self.go = False
    @workflow.run
    async def run(self) -> str:
        for s in ("receive", "validate"):
            await workflow.execute_activity(noop, s, start_to_close_timeout=timedelta(seconds=5))
        try:
            await workflow.wait_condition(lambda: self.go, timeout=10)
        except asyncio.TimeoutError:
            pass
        await workflow.execute_activity(noop, "charge", start_to_close_timeout=timedelta(seconds=5))
        await workflow.execute_child_workflow(SeedShip.run, id=workflow.info().workflow_id + "-s", task_queue=workflow.info().task_queue + "-s")
        return "ok"
    @workflow.signal
    def approve_order(self) -> None:
        self.go = True

async def one(client, shape, queue):
    wid = f"{shape}-{uuid.uuid4().hex[:10]}"
    if shape == "seed":
        h = await client.start_workflow(SeedOrder.run, id=wid, task_queue=queue)
        await h.signal(SeedOrder.approve_order)
    else:
        h = await client.start_workflow(Order.run, shape, id=wid, task_queue=queue)
        await h.execute_update(Order.approve)
    await h.result()

async def main():
    pid, port, n, conc, rounds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    shapes = sys.argv[6].split(",")
    client = await Client.connect(f"127.0.0.1:{port}")
    queue = "probe-" + uuid.uuid4().hex[:6]
    res = {s: [] for s in shapes}
    async with Worker(client, task_queue=queue, workflows=[Order, SeedOrder], activities=[noop], max_concurrent_workflow_tasks=100), \
               Worker(client, task_queue=queue + "-s", workflows=[Ship, SeedShip], activities=[noop], max_concurrent_workflow_tasks=100):
        for rnd in range(rounds):
            for shape in shapes:
                sem = asyncio.Semaphore(conc)
                async def go():
                    async with sem:
                        await one(client, shape, queue)
                c0, t0 = server_cpu(pid), time.time()
                await asyncio.gather(*[go() for _ in range(n)])
                c1, t1 = server_cpu(pid), time.time()
                per = 1000 * (c1 - c0) / n
                res[shape].append(per)
                print(f"round {rnd} {shape:8} server_cpu_ms={per:6.2f} wf_per_s={n/(t1-t0):6.1f}", flush=True)
    for s, v in res.items():
        print(s, "mean", round(sum(v)/len(v), 2), [round(x, 1) for x in v])

if __name__ == "__main__":
    asyncio.run(main())
