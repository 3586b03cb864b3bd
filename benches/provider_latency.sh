#!/usr/bin/env bash
# benches/provider_latency.sh: how long a change in Kubernetes (an Ingress added) or
# Marathon (an app deployed) takes to be served, through the real trafik binary against the
# protocol doubles of tests/common (no Kubernetes or Marathon can be run here), with
# providersThrottleDuration = "0s". Issue 18's goal: live within 1 s plus the throttle.
#
# Usage: benches/provider_latency.sh        (release build of trafik and of the harness)
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The test harness runs the trafik binary cargo builds beside it: the release one here.
cargo test --release --locked --test integration provider_latency:: \
    -- --ignored --nocapture --test-threads 1 2>&1 | grep -E "live after|test result|panicked"
