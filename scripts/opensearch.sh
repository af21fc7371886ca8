#!/usr/bin/env bash
# Fetches the OpenSearch integ-test distribution through Maven (by coordinates), installs the
# cross-cluster-replication (CCR) plugin into it, and points $OSCCR_OPENSEARCH_DIR/current at the
# result. Idempotent: a complete install returns at once. osccr cannot replicate without the
# plugin, so a distribution without it is an error here, never a warning.
#
# The plugin zip comes from the first of these that has it (the script says which it used):
#   1. CCR_PLUGIN_ZIP      a zip file
#   2. OSCCR_PLUGIN_DIR    a folder of plugin zips, picked by name
#                          (opensearch-cross-cluster-replication-<OPENSEARCH_VERSION>.0.zip) and
#                          checked against a SHA256SUMS file there when it has one
#   3. Maven               org.opensearch.plugin:opensearch-cross-cluster-replication:<version>.0:zip
#                          (not published there as of 2.19.x; tried for the day it is)
#   4. the official OpenSearch release of the plugin for the pinned version (needs internet)
#
# Environment:
#   OPENSEARCH_VERSION   OpenSearch version (the Makefile pins it)
#   OSCCR_OPENSEARCH_DIR where to unpack (default .opensearch)
#   OSCCR_NODE_USER      unprivileged account for nodes when run as root (default osccr)
set -euo pipefail

version=${OPENSEARCH_VERSION:?set OPENSEARCH_VERSION, e.g. 2.19.4}
plugin_version="${version}.0" # the plugin's version is OpenSearch's plus ".0"
dir=${OSCCR_OPENSEARCH_DIR:-.opensearch}
node_user=${OSCCR_NODE_USER:-osccr}
home="$dir/opensearch-$version"
downloads="$dir/downloads"
ccr_name=opensearch-cross-cluster-replication
ccr_zip="$ccr_name-$plugin_version.zip"
dist_coords="org.opensearch.distribution.integ-test-zip:opensearch:$version:zip"
plugin_coords="org.opensearch.plugin:$ccr_name:$plugin_version:zip"
# The one place the official release's address is written.
release_url="https://artifacts.opensearch.org/releases/plugins/$ccr_name/$plugin_version/$ccr_zip"

say() { printf 'opensearch: %s\n' "$*"; }
die() { printf 'opensearch: ERROR: %s\n' "$*" >&2; exit 1; }

for tool in mvn unzip java sha256sum; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed (needed: Maven, unzip, JDK 17, coreutils)"
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

# verify_sum FOLDER ZIP: when FOLDER has a SHA256SUMS, ZIP must be listed there and match it.
verify_sum() {
  local folder=$1 zip=$2 want got
  [ -f "$folder/SHA256SUMS" ] || { say "no SHA256SUMS in $folder: $zip is not checked"; return 0; }
  want=$(awk -v f="$(basename "$zip")" '{ sub(/^\*/, "", $2) } $2 == f { print $1; exit }' "$folder/SHA256SUMS")
  [ -n "$want" ] || die "$folder/SHA256SUMS does not list $(basename "$zip"): refusing an unchecked plugin"
  got=$(sha256sum "$zip" | awk '{ print $1 }')
  [ "$want" = "$got" ] || die "checksum mismatch for $zip: SHA256SUMS says $want, the file is $got. The zip is damaged or not the one published: replace it."
  say "checksum of $(basename "$zip") matches $folder/SHA256SUMS"
}

# find_plugin: prints the path of the plugin zip from the first source that has it, and records
# every source tried in $tried.
tried=()
find_plugin() {
  if [ -n "${CCR_PLUGIN_ZIP:-}" ]; then
    [ -f "$CCR_PLUGIN_ZIP" ] || die "CCR_PLUGIN_ZIP=$CCR_PLUGIN_ZIP is not a file"
    source_used="CCR_PLUGIN_ZIP ($CCR_PLUGIN_ZIP)"
    plugin_zip=$CCR_PLUGIN_ZIP
    return 0
  fi
  tried+=("CCR_PLUGIN_ZIP: not set")
  if [ -n "${OSCCR_PLUGIN_DIR:-}" ]; then
    if [ -f "$OSCCR_PLUGIN_DIR/$ccr_zip" ]; then
      verify_sum "$OSCCR_PLUGIN_DIR" "$OSCCR_PLUGIN_DIR/$ccr_zip"
      source_used="OSCCR_PLUGIN_DIR ($OSCCR_PLUGIN_DIR/$ccr_zip)"
      plugin_zip="$OSCCR_PLUGIN_DIR/$ccr_zip"
      return 0
    fi
    tried+=("OSCCR_PLUGIN_DIR=$OSCCR_PLUGIN_DIR: no $ccr_zip there (has: $(cd "$OSCCR_PLUGIN_DIR" 2>/dev/null && ls -- *.zip 2>/dev/null | tr '\n' ' '))")
  else
    tried+=("OSCCR_PLUGIN_DIR: not set")
  fi
  say "fetching $plugin_coords through Maven"
  if fetch "$plugin_coords"; then
    source_used="Maven ($plugin_coords)"
    plugin_zip="$downloads/$ccr_zip"
    return 0
  fi
  tried+=("Maven: mvn -U dependency:copy -Dartifact=$plugin_coords found nothing")
  if command -v curl >/dev/null; then
    say "downloading the official release $release_url"
    if curl -fsSL --connect-timeout 10 --max-time 300 -o "$downloads/$ccr_zip.part" "$release_url"; then
      mv "$downloads/$ccr_zip.part" "$downloads/$ccr_zip"
      source_used="the official release ($release_url)"
      plugin_zip="$downloads/$ccr_zip"
      return 0
    fi
    rm -f "$downloads/$ccr_zip.part"
    tried+=("official release: curl $release_url failed (no internet here?)")
  else
    tried+=("official release: curl is not installed, $release_url not tried")
  fi
  return 1
}

if [ -d "$home/plugins/$ccr_name" ]; then
  say "cross-cluster-replication plugin $plugin_version already installed"
else
  source_used="" plugin_zip=""
  if ! find_plugin; then
    {
      echo "opensearch: ERROR: no $ccr_zip from any source; osccr cannot replicate without it."
      echo "opensearch: tried, in order:"
      for t in "${tried[@]}"; do echo "opensearch:   - $t"; done
      echo "opensearch: supply it with one of:"
      echo "opensearch:   CCR_PLUGIN_ZIP=/path/to/$ccr_zip make opensearch"
      echo "opensearch:   OSCCR_PLUGIN_DIR=/folder/with/zips make opensearch   (checked against SHA256SUMS there)"
      echo "opensearch: (build it from the plugin's source tag $plugin_version with Maven if no release is at hand)"
    } >&2
    exit 1
  fi
  say "installing the cross-cluster-replication plugin from $source_used"
  "$home/bin/opensearch-plugin" install --batch "file://$(readlink -f "$plugin_zip")" >/dev/null
  [ -d "$home/plugins/$ccr_name" ] || die "opensearch-plugin install left no $home/plugins/$ccr_name"
fi

ln -sfn "opensearch-$version" "$dir/current"
say "ready: $dir/current -> opensearch-$version (plugins: $(ls "$home/plugins" | tr '\n' ' '))"

# The secured distribution: the same OpenSearch and CCR plugin (hard links: no extra disk) plus
# the security plugin from Maven, for secured services and the tests of secured clusters.
security_coords="org.opensearch.plugin:opensearch-security:$plugin_version:zip"
secure_home="$dir/opensearch-$version-secure"
if [ -d "$secure_home/plugins/opensearch-security" ]; then
  say "security plugin $plugin_version already installed in $secure_home"
else
  say "fetching $security_coords"
  fetch "$security_coords" || die "could not fetch $security_coords through Maven (tried: mvn dependency:copy -Dartifact=$security_coords); secured services need it"
  rm -rf "$secure_home" "$secure_home.tmp"
  cp -al "$home" "$secure_home.tmp"
  # (its list of the permissions the plugin asks for goes to the log; it is shown on failure)
  "$secure_home.tmp/bin/opensearch-plugin" install --batch "file://$(readlink -f "$downloads/opensearch-security-$plugin_version.zip")" >"$dir/security-install.log" 2>&1 ||
    { cat "$dir/security-install.log" >&2; die "installing the security plugin failed"; }
  [ -d "$secure_home.tmp/plugins/opensearch-security" ] || die "opensearch-plugin install left no opensearch-security plugin"
  mv "$secure_home.tmp" "$secure_home"
  say "installed the security plugin into $secure_home"
fi
ln -sfn "opensearch-$version-secure" "$dir/current-secure"
say "ready: $dir/current-secure -> opensearch-$version-secure (plugins: $(ls "$secure_home/plugins" | tr '\n' ' '))"
