#!/bin/sh
# Creates the namespace order-host uses and its OrderState search attribute (workers would add the attribute
# themselves; doing it here keeps the Web UI's filter there from the start). Safe to run again.
set -eu
address=${TEMPORAL_ADDRESS:-temporal:7233}
namespace=${NAMESPACE:-default}
until temporal operator cluster health --address "$address" >/dev/null 2>&1; do echo "waiting for $address"; sleep 1; done
temporal operator namespace describe --address "$address" -n "$namespace" >/dev/null 2>&1 \
  || temporal operator namespace create --address "$address" -n "$namespace" --retention 7d
temporal operator search-attribute list --address "$address" -n "$namespace" | grep -q OrderState \
  || temporal operator search-attribute create --address "$address" -n "$namespace" --name OrderState --type Keyword
echo "namespace $namespace is ready"
