#!/usr/bin/env bash
# Runs `temporal server start-dev` with the dynamic config order-host needs; extra arguments are passed through
# (e.g. --port 7233 --headless --db-filename data/temporal.db).
#
# The dev server's defaults are tuned for laptops, not for activities that retry within tens of milliseconds:
# - history.timerProcessorMaxTimeShift=1s floors every timer (retry backoffs, activity timeouts, approval timeouts)
#   at about a second from when it was set;
# - history.timerProcessorMaxPollRPS / transferProcessorMaxPollRPS=20 throttle how fast retries and timeouts are
#   turned into tasks, which under load queues them for seconds (200 orders under the Trellis failure simulation:
#   p99 start→shipped 17.9 s with the defaults, 9.4 s with these settings).
# - matching.numTaskqueueReadPartitions / WritePartitions=1: one partition per task queue instead of four. With four,
#   a workflow task that lands on a partition no poller waits on sits there until one comes by: at 50 orders in flight
#   a quarter of the shipping children's first tasks waited seconds (host alone, 300 orders, two runs of each
#   alternately: p90 start→shipped 5.6–6.4 s with four partitions, 3.0–3.5 s with one). One node has nothing to
#   spread over partitions.
# - system.forceSearchAttributesCacheRefreshOnRead=false: the server's own default, which start-dev turns on so that a
#   search attribute created a moment ago is usable at once. On, every search-attribute lookup reads the database —
#   one cluster-metadata and one namespace read per workflow start, child start, upsert, visibility write and history
#   page a worker is sent — all on the dev server's one SQLite connection: 29.7 of the host's 72.1 database calls per
#   order at 50 in flight, 19 of the seed shape's 109 (BENCHMARKS.md). Off, the attribute types are cached for 60 s
#   and the namespace's names refreshed every few seconds. A fresh server has OrderState from the start (below); a
#   kept --db-filename from before that gets it from the first worker, and upserts fail (and are retried) until then.
# It also registers the keyword search attribute OrderState, which OrderWorkflow writes every state of an order to
# (workers add it themselves where the server lets them).
set -euo pipefail
exec temporal server start-dev \
  --search-attribute OrderState=Keyword \
  --dynamic-config-value 'history.timerProcessorMaxTimeShift="10ms"' \
  --dynamic-config-value 'history.timerProcessorMaxPollRPS=1000' \
  --dynamic-config-value 'history.transferProcessorMaxPollRPS=1000' \
  --dynamic-config-value 'matching.numTaskqueueReadPartitions=1' \
  --dynamic-config-value 'matching.numTaskqueueWritePartitions=1' \
  --dynamic-config-value 'system.forceSearchAttributesCacheRefreshOnRead=false' \
  "$@"
