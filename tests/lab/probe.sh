#!/bin/sh
# probe.sh -- the lab scenarios with real failures: a dying server's probe targets
# (TLS, HTTPS autodiscover, STUN listeners) are killed, and waymarkd's own prober
# (interval 1 s, fall 2, rise 1) has to notice; nobody tells waymarkd.
# Same scenarios and bounds as scenarios.sh (which injects with waymarkctl set).
LAB_INJECT=${LAB_INJECT_PROBE:-kill} LAB_TEST_PREFIX=wmlp- \
	LAB_TIMELINE=${LAB_TIMELINE:-${top_builddir:-.}/tests/lab/timeline-probe.csv} \
	exec sh "$(dirname "$0")/scenarios.sh" "$@"
