#!/usr/bin/env bash
# Fetches the OpenSearch integ-test distribution and the matching cross-cluster-replication
# plugin through Maven (by coordinates), unpacks them under $OSCCR_OPENSEARCH_DIR and points
# $OSCCR_OPENSEARCH_DIR/current at the result. Idempotent: a complete install returns at once.
#
# Environment:
#   OPENSEARCH_VERSION   OpenSearch version (the Makefile pins it)
#   OSCCR_OPENSEARCH_DIR where to unpack (default .opensearch)
#   CCR_PLUGIN_ZIP       install the CCR plugin from this local zip instead of Maven
#   REQUIRE_CCR=1        fail when the CCR plugin cannot be installed (default: warn loudly)
#   OSCCR_NODE_USER      unprivileged account for nodes when run as root (default osccr)
set -euo pipefail

version=${OPENSEARCH_VERSION:?set OPENSEARCH_VERSION, e.g. 2.19.6}
plugin_version="${version}.0" # the plugin's version is OpenSearch's plus ".0"
dir=${OSCCR_OPENSEARCH_DIR:-.opensearch}
node_user=${OSCCR_NODE_USER:-osccr}
home="$dir/opensearch-$version"
downloads="$dir/downloads"
ccr_name=opensearch-cross-cluster-replication
dist_coords="org.opensearch.distribution.integ-test-zip:opensearch:$version:zip"
plugin_coords="org.opensearch.plugin:$ccr_name:$plugin_version:zip"
unavailable_marker="$home/.ccr-unavailable"

say() { printf 'opensearch: %s\n' "$*"; }
die() { printf 'opensearch: ERROR: %s\n' "$*" >&2; exit 1; }

for tool in mvn unzip java; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed (needed: Maven, unzip, JDK 17)"
done
if [ -z "${JAVA_HOME:-}" ]; then
  JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
  export JAVA_HOME
fi

# OpenSearch refuses to run as root, so a root caller needs an account to run nodes as.
if [ "$(id -u)" = 0 ] && ! id "$node_user" >/dev/null 2>&1; then
  say "creating system user '$node_user' to run OpenSearch nodes (OpenSearch refuses root)"
  useradd --system --no-create-home --shell /usr/sbin/nologin "$node_user"
fi

fetch() { # fetch COORDS: copy an artifact into $downloads; prints Maven's error on failure
  local log
  log=$(mktemp)
  if mvn -B -q -U dependency:copy -Dartifact="$1" -DoutputDirectory="$downloads" >"$log" 2>&1; then
    rm -f "$log"
    return 0
  fi
  grep -m1 -E 'Could not find|not found|Could not transfer|ERROR' "$log" | sed 's/\x1b\[[0-9;]*m//g' >&2 || cat "$log" >&2
  rm -f "$log"
  return 1
}

mkdir -p "$downloads"

if [ ! -x "$home/bin/opensearch" ]; then
  say "fetching $dist_coords"
  fetch "$dist_coords" || die "could not fetch $dist_coords through Maven (tried: mvn dependency:copy -Dartifact=$dist_coords)"
  tmp=$(mktemp -d "$dir/unpack.XXXXXX")
  unzip -q "$downloads/opensearch-$version.zip" -d "$tmp"
  mv "$tmp/opensearch-$version" "$home"
  rmdir "$tmp"
  say "unpacked OpenSearch $version into $home"
fi

if [ -d "$home/plugins/$ccr_name" ]; then
  say "cross-cluster-replication plugin already installed"
else
  zip=""
  if [ -n "${CCR_PLUGIN_ZIP:-}" ]; then
    [ -f "$CCR_PLUGIN_ZIP" ] || die "CCR_PLUGIN_ZIP=$CCR_PLUGIN_ZIP does not exist"
    zip=$CCR_PLUGIN_ZIP
  elif [ "${REQUIRE_CCR:-0}" != 1 ] && [ -n "$(find "$unavailable_marker" -mmin -1440 2>/dev/null)" ]; then
    zip=recently-unavailable
  else
    say "fetching $plugin_coords"
    if fetch "$plugin_coords"; then
      zip="$downloads/$ccr_name-$plugin_version.zip"
    fi
  fi
  if [ "$zip" = recently-unavailable ]; then
    printf 'opensearch: WARNING: %s (Maven was asked less than a day ago; not asking again)\n' "$(cat "$unavailable_marker")" >&2
  elif [ -n "$zip" ]; then
    "$home/bin/opensearch-plugin" install --batch "file://$(readlink -f "$zip")"
    rm -f "$unavailable_marker"
    say "installed the cross-cluster-replication plugin from $zip"
  else
    msg="the cross-cluster-replication plugin $plugin_coords is not available from Maven here (tried: mvn -U dependency:copy -Dartifact=$plugin_coords). Supply it with CCR_PLUGIN_ZIP=/path/to/$ccr_name-$plugin_version.zip make opensearch."
    echo "$msg" >"$unavailable_marker"
    if [ "${REQUIRE_CCR:-0}" = 1 ]; then
      die "$msg"
    fi
    printf '\nopensearch: WARNING: %s\nopensearch: WARNING: nodes will start without CCR; replication tests need it (make test-ccr).\n\n' "$msg" >&2
  fi
fi

ln -sfn "opensearch-$version" "$dir/current"
say "ready: $dir/current -> opensearch-$version (plugins: $(ls "$home/plugins" | tr '\n' ' '))"
