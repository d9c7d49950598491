#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The counters in Prometheus's text format: promtool accepts them, and a
# real Prometheus server scraping 'mmiotrap exporter' finds the numbers
# 'mmiotrap stats -j' reports. Writes are injected into the trap (no VM),
# but for the latency histograms: the test VMM's, answered with MSIs.

BASE=0xd0000000

setup() {
	load helper
	load_bpf_trap --attach raw_tp
	command -v prometheus >/dev/null && command -v promtool >/dev/null ||
		fail "prometheus and promtool are missing (make deps installs them)"
}

teardown() {
	unload_trap
}

# Two regions of one injector, one of them with writes it does not accept.
inject_some() {
	inject_start inj mmio:$BASE:4:40:5:5 mmio:$BASE:2:3 pio:0x510:1:9:1
	"$MT" region add --vm "$inj_pid" --mmio $BASE --len 4 --width 4 --name db >/dev/null
	"$MT" region add --vm "$inj_pid" --pio 0x510 --len 1 >/dev/null
	inject_go inj
}

# sample TEXT METRIC LABELS: the value of the sample METRIC{LABELS} in TEXT.
sample() {
	local line
	line=$(grep -F -- "$2{$3} " <<<"$1") || fail "no sample $2{$3} in: $1"
	echo "${line##* }"
}

# An unused TCP port of 127.0.0.1.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# exporter_start ARGS...: 'mmiotrap exporter' on a port of its choosing, in $exporter_port.
exporter_start() {
	local i
	"$MT" -j exporter --listen 127.0.0.1:0 "$@" >"$BATS_TEST_TMPDIR/exporter.out" \
		2>"$BATS_TEST_TMPDIR/exporter.err" 3>&- &
	exporter_pid=$!
	echo $! >>"$BATS_TEST_TMPDIR/children"
	for i in $(seq 50); do
		exporter_port=$(jq -r '.port // empty' "$BATS_TEST_TMPDIR/exporter.out" 2>/dev/null)
		[ -n "$exporter_port" ] && return 0
		sleep 0.1
	done
	fail "the exporter never said its port: $(cat "$BATS_TEST_TMPDIR/exporter.out" "$BATS_TEST_TMPDIR/exporter.err")"
}

# exporter_stop SIGNAL: it must exit 0, promptly.
exporter_stop() {
	local status=0
	kill -"$1" "$exporter_pid"
	wait "$exporter_pid" || status=$?
	[ "$status" = 0 ] || fail "the exporter exited $status on SIG$1: $(cat "$BATS_TEST_TMPDIR/exporter.err")"
}

scrape() {
	curl -sf "http://127.0.0.1:$exporter_port/metrics"
}

# prometheus_start: a Prometheus server scraping the exporter every
# second, once it has scraped it; its query API at $api.
prometheus_start() {
	local port dir i up
	port=$(free_port)
	dir=$BATS_TEST_TMPDIR/prometheus
	mkdir -p "$dir"
	cat >"$dir/prometheus.yml" <<-EOF
	global:
	  scrape_interval: 1s
	  evaluation_interval: 1s
	scrape_configs:
	  - job_name: mmiotrap
	    static_configs:
	      - targets: ["127.0.0.1:$exporter_port"]
	EOF
	prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
		--web.listen-address="127.0.0.1:$port" --log.level=warn \
		>"$dir/log" 2>&1 3>&- &
	prom_pid=$!
	echo $! >>"$BATS_TEST_TMPDIR/children"
	api="http://127.0.0.1:$port/api/v1/query"
	# By the clock, not by tries: under emulation Prometheus takes minutes
	# to start, and each try seconds.
	for ((i = SECONDS + 300; SECONDS < i; )); do
		up=$(curl -sf "$api" --data-urlencode 'query=mmiotrap_up{job="mmiotrap"}' |
			jq -r '.data.result[0].value[1] // empty' 2>/dev/null) || true
		[ "$up" = 1 ] && return 0
		sleep 0.2
	done
	fail "Prometheus never scraped the exporter: $(cat "$dir/log")"
}

# query PROMQL JQ: Prometheus's answer to PROMQL, as JQ makes it.
query() {
	curl -sf "$api" --data-urlencode "query=$1" | jq -c "$2"
}

@test "stats --format prometheus: promtool accepts it, and it says what stats -j says" {
	inject_some
	stats=$("$MT" -j stats)
	run "$MT" stats --format prometheus
	assert_success
	text=$output
	run promtool check metrics <<<"$text"
	assert_success
	db='vm="'$inj_pid'",vm_name="",region="db"'
	two='vm="'$inj_pid'",vm_name="",region="2"'
	assert_equal "$(sample "$text" mmiotrap_doorbell_writes_total "$db,path=\"exit\"")" \
		"$(jq '.regions[0].slow' <<<"$stats")"
	assert_equal "$(sample "$text" mmiotrap_doorbell_writes_total "$db,path=\"kernel\"")" \
		"$(jq '.regions[0].fast' <<<"$stats")"
	assert_equal "$(sample "$text" mmiotrap_doorbell_writes_total "$two,path=\"exit\"")" 9
	assert_equal "$(sample "$text" mmiotrap_doorbell_skipped_total "$db")" 3
	assert_equal "$(sample "$text" mmiotrap_doorbell_lost_total "$db")" 0
	# Records go to subscribers: with none there is no record, only counts.
	assert_equal "$(sample "$text" mmiotrap_doorbell_records_total "$two")" 0
	# 5 + 39 * 5, and 1 + 8.
	assert_equal "$(sample "$text" mmiotrap_doorbell_last_value "$db")" 200
	assert_equal "$(sample "$text" mmiotrap_doorbell_last_value "$two")" 9
	assert_equal "$(jq -c '.regions | map([.slow, .fast, .skipped])' <<<"$stats")" '[[40,0,3],[9,0,0]]'
	grep -qx '# TYPE mmiotrap_unmatched_writes_total counter' <<<"$text" ||
		fail "no TYPE line for mmiotrap_unmatched_writes_total: $text"
	grep -qx 'mmiotrap_regions 2' <<<"$text" || fail "wanted mmiotrap_regions 2: $text"
}

@test "a Prometheus server scraping the exporter finds the numbers stats -j reports" {
	inject_some
	exporter_start
	scrape | promtool check metrics || fail "promtool refused the exporter's page: $(scrape)"
	prometheus_start
	stats=$("$MT" -j stats)
	assert_equal "$(query 'mmiotrap_doorbell_writes_total{path="exit"}' \
		'[.data.result[] | [.metric.region, .metric.vm, .value[1]]] | sort')" \
		"$(jq -c --arg vm "$inj_pid" '[.regions[] | [if .name == "" then "\(.id)" else .name end, $vm, "\(.slow)"]] | sort' <<<"$stats")"
	assert_equal "$(query 'sum(mmiotrap_doorbell_writes_total{path="kernel"})' '.data.result[0].value[1]')" \
		"\"$(jq .totals.fast <<<"$stats")\""
	assert_equal "$(query 'sum(mmiotrap_doorbell_lost_total)' '.data.result[0].value[1]')" \
		"\"$(jq .totals.dropped <<<"$stats")\""
	assert_equal "$(query 'sum(mmiotrap_doorbell_skipped_total)' '.data.result[0].value[1]')" \
		"\"$(jq .totals.skipped <<<"$stats")\""
	assert_equal "$(query 'mmiotrap_stale_writes_total' '.data.result[0].value[1]')" \
		"\"$(jq .totals.stale <<<"$stats")\""
	kill -TERM "$prom_pid"
	wait "$prom_pid" || true
	exporter_stop TERM
}

# bats test_tags=kvm
@test "Prometheus finds the per queue counts and latency histograms stats -j reports" {
	require_kvm
	# NVMe SQ 1 and 2 of the test VMM, an MSI 300 us after every second
	# write: SQ1 and SQ2 open, MSI; SQ1 opens, 3 ms pause, SQ1, MSI.
	vmm_start vm --irq msi:2:300 mmio:0xfebf1008:4:1:1 mmio:0xfebf1010:4:1:1 \
		mmio:0xfebf1008:4:1:2 pause:3000 mmio:0xfebf1008:4:1:3 pio:0x90:1:1
	"$MT" region add --vm "$vm_pid" --mmio 0xfebf1000 --len 0x40 --name nvme \
		--decoder nvme --bar0 0xfebf0000 --queues 4 >/dev/null
	vmm_go vm
	stats=$("$MT" -j stats)
	assert_equal "$(jq -c '.regions[0].queues | map([.queue, .writes, .latency.pairs])' <<<"$stats")" \
		'[[1,3,2],[2,1,1]]'
	buckets_at_least '[[524288,1],[4194304,1]]' \
		"$(jq -c '.regions[0].queues[0] | [.latency.buckets[] | [.le_ns, .count]]' <<<"$stats")"
	exporter_start
	scrape | promtool check metrics || fail "promtool refused the exporter's page: $(scrape)"
	prometheus_start
	lat=mmiotrap_doorbell_interrupt_latency_seconds
	assert_equal "$(query "${lat}_count" '[.data.result[] | [.metric.queue, .metric.kind, .value[1]]] | sort')" \
		"$(jq -c '[.regions[0].queues[] | ["\(.queue)", .kind, "\(.latency.pairs)"]] | sort' <<<"$stats")"
	assert_equal "$(query "${lat}_sum" '[.data.result[] | [.metric.queue, (.value[1] | tonumber)]] | sort')" \
		"$(jq -c '[.regions[0].queues[] | select(.kind == "sq_tail") | ["\(.queue)", (.latency.sum_ns / 1e9)]] | sort' <<<"$stats")"
	# Cumulative buckets, each as many as stats -j's up to its bound.
	q1=$(jq -c '.regions[0].queues[0].latency.buckets' <<<"$stats")
	run jq -e -n --argjson p "$(query "${lat}_bucket{queue=\"1\"}" '[.data.result[] | [.metric.le, .value[1]]]')" \
		--argjson q "$q1" '
		($p | length) > 2 and all($p[]; . as [$le, $n] |
			($n | tonumber) == ([$q[] | select($le == "+Inf" or .le_ns / 1e9 <= ($le | tonumber)) | .count] | add // 0))'
	assert_success
	# Prometheus takes them for a histogram: quantile 1 is the last
	# bucket that holds an interval.
	assert_equal "$(query "histogram_quantile(1, ${lat}_bucket{queue=\"1\",kind=\"sq_tail\"})" \
		'.data.result[0].value[1] | tonumber')" "$(jq '[.[] | select(.count > 0) | .le_ns] | max / 1e9' <<<"$q1")"
	assert_equal "$(query 'mmiotrap_queue_writes_total{path="exit"}' \
		'[.data.result[] | [.metric.queue, .metric.kind, .value[1]]] | sort')" \
		"$(jq -c '[.regions[0].queues[] | ["\(.queue)", .kind, "\(.slow)"]] | sort' <<<"$stats")"
	kill -TERM "$prom_pid"
	wait "$prom_pid" || true
	exporter_stop TERM
}

@test "the exporter serves mmiotrap_up 0 while nothing is loaded, reads a new instance, and exits 0 on SIGINT" {
	exporter_start
	run scrape
	assert_success
	assert_line 'mmiotrap_up 1'
	assert_line 'mmiotrap_regions 0'
	"$MT" unload >/dev/null
	run scrape
	assert_success
	assert_output "# HELP mmiotrap_up Whether the counters of the instance could be read.
# TYPE mmiotrap_up gauge
mmiotrap_up 0"
	"$MT" load --attach raw_tp >/dev/null
	inject_some
	run scrape
	assert_success
	assert_line 'mmiotrap_up 1'
	assert_line 'mmiotrap_regions 2'
	run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$exporter_port/other"
	assert_output 404
	run curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$exporter_port/metrics"
	assert_output 405
	exporter_stop INT
	assert_equal "$(cat "$BATS_TEST_TMPDIR/exporter.err")" \
		"mmiotrap: exporter: cannot read $MMIOTRAP_PIN_ROOT: not loaded (serving mmiotrap_up 0)
mmiotrap: exporter: reading $MMIOTRAP_PIN_ROOT"
}

@test "the exporter and stats say what is wrong with their arguments" {
	run "$MT" exporter --listen nowhere
	assert_failure
	assert_output "mmiotrap: bad --listen 'nowhere': ADDR:PORT"
	run "$MT" exporter --listen 127.0.0.1:http
	assert_failure
	assert_output --partial "mmiotrap: bad --listen '127.0.0.1:http': "
	run "$MT" exporter --port 1
	assert_failure
	assert_output "mmiotrap: unknown argument '--port' to exporter"
	run "$MT" stats --format xml
	assert_failure
	assert_output "mmiotrap: bad --format 'xml': text, json or prometheus"
}
