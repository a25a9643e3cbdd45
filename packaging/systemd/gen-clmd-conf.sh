#!/bin/sh
# Writes clmd.conf.example: every setting `clmd --help` lists, commented
# out at its default, with its help. Run it after changing server/config.c:
#   packaging/systemd/gen-clmd-conf.sh build/bin/clmd > packaging/systemd/clmd.conf.example
set -eu
CLMD=${1:-build/bin/clmd}

cat <<'HEAD'
# /etc/clm/clmd.conf: the settings of clmd.
#
# Every key clmd knows is below, commented out at its default: uncomment a
# line to change it. The format is INI: `key = value`, `#` comments,
# [sections] allowed and ignored. Each key is also a flag with '_' written
# '-' (max_db_bytes = --max-db-bytes), and flags win over this file: the
# systemd unit passes --data /var/lib/clm, so `data` here is not used
# under it. Sizes take K, M, G or T. `listen` may be given several times.
#
# Generated from `clmd --help` by packaging/systemd/gen-clmd-conf.sh;
# docs/operations.md explains the settings, docs/deploy.md the deployment.
HEAD

"$CLMD" --help | awk '
/^  --/ {
	flag = $1
	sub(/^--/, "", flag)
	if (flag == "config" || flag == "version" || flag == "help")
		next
	key = flag
	gsub(/-/, "_", key)
	# The help is what follows the flag and its argument.
	help = $0
	sub(/^  [^ ]+ [^ ]+ +/, "", help)
	def = ""
	if (match(help, / \(default [^)]*\)$/)) {
		def = substr(help, RSTART + 10, RLENGTH - 11)
		help = substr(help, 1, RSTART - 1)
	}
	if (key == "data")
		print "\n# --- Where it keeps its data and where it listens"
	else if (key == "max_message_bytes")
		print "\n# --- Limits of what one request may carry"
	else if (key == "write_queue")
		print "\n# --- The writer and the database"
	else if (key == "at_risk_days")
		print "\n# --- Lifecycle model: health and churn risk"
	else if (key == "cap_messages")
		print "\n# --- Recommendations: frequency capping"
	print ""
	wrap("# " help, 76)
	print "#" key " =" (def == "" ? "" : " " def)
}

# Prints text in lines of at most width columns, "# " before each.
function wrap(text, width,    n, words, i, line) {
	n = split(text, words, " ")
	line = words[1]
	for (i = 2; i <= n; i++) {
		if (length(line) + 1 + length(words[i]) > width) {
			print line
			line = "#"
		}
		line = line " " words[i]
	}
	print line
}'
