#!/usr/bin/env bash
# Fetches the OpenSearch integ-test distribution through Maven (by coordinates), gives it the
# standard modules of OpenSearch's min distribution (their jars and dependencies from Maven),
# installs the cross-cluster-replication (CCR) plugin, the job-scheduler and Index State
# Management (ISM) plugins into it, and points $OSCCR_OPENSEARCH_DIR/current at the result; then
# the same plus the security plugin as current-secure. docs/opensearch.md says what is in it and
# why. Idempotent: a complete install returns at once, an older install is completed in place.
# osccr cannot replicate without the CCR plugin, so a distribution without it is an error here,
# never a warning; the same holds for a module or plugin this script installs.
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
# The ISM and job-scheduler zips come from OSCCR_PLUGIN_DIR (checked against its SHA256SUMS);
# job-scheduler, which Maven Central has, from Maven when that folder lacks it.
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

# The modules of OpenSearch's min distribution (the integ-test zip has transport-netty4 only).
# Maven Central has their jars, not their zips, so each module directory is assembled here: the
# module's jar and its own runtime dependencies (never one that lib/ already has: two copies of
# a class stop the node with a JarHell error), a plugin-descriptor.properties with the fields of
# the module's build.gradle at the OpenSearch tag, and its permissions where it needs any
# (scripts/opensearch-modules/<module>.policy). Left out: opensearch-dashboards and crypto (not
# on Maven Central for this version; see docs/opensearch.md).
#   directory | Maven artifact (org.opensearch.plugin) | classname | extended.plugins | description
modules_table="\
aggs-matrix-stats|aggs-matrix-stats-client|org.opensearch.search.aggregations.matrix.MatrixAggregationPlugin||Adds aggregations whose input are a list of numeric fields and output includes a matrix.
analysis-common|analysis-common|org.opensearch.analysis.common.CommonAnalysisPlugin|lang-painless|Adds \"built in\" analyzers to OpenSearch.
cache-common|cache-common|org.opensearch.cache.common.tier.TieredSpilloverCachePlugin||Module for caches which are optional and do not require additional security permission
geo|geo|org.opensearch.geo.GeoModulePlugin||Plugin for geospatial features in OpenSearch. Registering the geo_shape and aggregations on GeoShape and GeoPoint
ingest-common|ingest-common|org.opensearch.ingest.common.IngestCommonPlugin|lang-painless|Module for ingest processors that do not require additional security permissions or have large dependencies and resources
ingest-geoip|ingest-geoip|org.opensearch.ingest.geoip.IngestGeoIpPlugin||Ingest processor that uses looksup geo data based on ip adresses using the Maxmind geo database
ingest-user-agent|ingest-user-agent|org.opensearch.ingest.useragent.IngestUserAgentPlugin||Ingest processor that extracts information from a user agent
lang-expression|lang-expression|org.opensearch.script.expression.ExpressionPlugin||Lucene expressions integration for OpenSearch
lang-mustache|lang-mustache-client|org.opensearch.script.mustache.MustachePlugin||Mustache scripting integration for OpenSearch
lang-painless|lang-painless|org.opensearch.painless.PainlessPlugin||An easy, safe and fast scripting language for OpenSearch
mapper-extras|mapper-extras-client|org.opensearch.index.mapper.MapperExtrasPlugin||Adds advanced field mappers
parent-join|parent-join-client|org.opensearch.join.ParentJoinPlugin||This module adds the support parent-child queries and aggregations
percolator|percolator-client|org.opensearch.percolator.PercolatorPlugin||Percolator module adds capability to index queries and query these queries by specifying documents
rank-eval|rank-eval-client|org.opensearch.index.rankeval.RankEvalPlugin||The Rank Eval module adds APIs to evaluate ranking quality.
reindex|reindex-client|org.opensearch.index.reindex.ReindexPlugin||The Reindex module adds APIs to reindex from one index to another or update documents in place.
repository-url|repository-url|org.opensearch.plugin.repository.url.URLRepositoryPlugin||Module for URL repository
search-pipeline-common|search-pipeline-common|org.opensearch.search.pipeline.common.SearchPipelineCommonModulePlugin||Module for search pipeline processors that do not require additional security permissions or have large dependencies and resources
systemd|systemd|org.opensearch.systemd.SystemdPlugin||Integrates OpenSearch with systemd
"
# The GeoLite2 databases the min distribution ships inside ingest-geoip (CC BY-SA 4.0, MaxMind).
geoip_databases="org.elasticsearch:geolite2-databases:20191119"
policies="$(cd "$(dirname "$0")" && pwd)/opensearch-modules"

# lib_has NAME: whether lib/ holds a jar of artifact NAME (any version).
lib_has() { compgen -G "$home/lib/$1-[0-9]*.jar" >/dev/null; }
# artifact_of JAR: the artifact name of a jar file, its version cut off (zstd-jni-1.5.5-5.jar -> zstd-jni).
artifact_of() { basename "$1" .jar | sed 's/-[0-9].*$//'; }

want_modules=()
while IFS='|' read -r name _; do
  [ -n "$name" ] || continue
  [ -f "$home/modules/$name/plugin-descriptor.properties" ] || want_modules+=("$name")
done <<<"$modules_table"
if [ ${#want_modules[@]} -eq 0 ]; then
  say "modules already installed: $(ls "$home/modules" | tr '\n' ' ')"
else
  say "fetching ${#want_modules[@]} modules through Maven: ${want_modules[*]}"
  # One Maven run resolves every module: an aggregator project with one project per module,
  # each depending on the module's jar; copy-dependencies gives each the jar and its runtime
  # dependencies, transitively.
  work="$downloads/modules"
  rm -rf "$work"
  mkdir -p "$work"
  pom_head='<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
  {
    echo "$pom_head"
    echo "<groupId>local.osccr</groupId><artifactId>modules</artifactId><version>1</version><packaging>pom</packaging><modules>"
    for name in "${want_modules[@]}"; do echo "<module>$name</module>"; done
    echo "</modules></project>"
  } >"$work/pom.xml"
  while IFS='|' read -r name artifact _; do
    [ -n "$name" ] && [[ " ${want_modules[*]} " == *" $name "* ]] || continue
    mkdir -p "$work/$name"
    extra=""
    if [ "$name" = ingest-geoip ]; then
      IFS=: read -r g a v <<<"$geoip_databases"
      extra="<dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version></dependency>"
    fi
    {
      echo "$pom_head"
      echo "<groupId>local.osccr</groupId><artifactId>$name</artifactId><version>1</version><packaging>pom</packaging>"
      echo "<dependencies><dependency><groupId>org.opensearch.plugin</groupId><artifactId>$artifact</artifactId><version>$version</version></dependency>$extra</dependencies></project>"
    } >"$work/$name/pom.xml"
  done <<<"$modules_table"
  if ! mvn -B -q -U -f "$work/pom.xml" dependency:copy-dependencies -DincludeScope=runtime >"$work/maven.log" 2>&1; then
    grep -E 'Could not|not found|ERROR' "$work/maven.log" | sed 's/\x1b\[[0-9;]*m//g' | head -5 >&2
    die "could not fetch the modules through Maven (mvn -f $work/pom.xml dependency:copy-dependencies; log: $work/maven.log)"
  fi
  java_version=$(sed -n 's/^java\.version=//p' "$home/modules/transport-netty4/plugin-descriptor.properties")
  while IFS='|' read -r name artifact classname extended description; do
    [ -n "$name" ] && [[ " ${want_modules[*]} " == *" $name "* ]] || continue
    from="$work/$name/target/dependency"
    [ -f "$from/$artifact-$version.jar" ] || die "Maven gave no $artifact-$version.jar for module $name (see $work/maven.log)"
    to="$home/modules/.$name.tmp"
    rm -rf "$to"
    mkdir -p "$to"
    shared=()
    for jar in "$from"/*.jar; do
      a=$(artifact_of "$jar")
      if [ "$a" = geolite2-databases ]; then
        unzip -q -j "$jar" '*.mmdb' -d "$to"
      elif lib_has "$a"; then
        shared+=("$a")
      else
        cp "$jar" "$to/"
      fi
    done
    cat >"$to/plugin-descriptor.properties" <<EOF
# Written by scripts/opensearch.sh from the module's build.gradle at OpenSearch $version.
description=$description
version=$version
name=$name
classname=$classname
java.version=$java_version
opensearch.version=$version
custom.foldername=
extended.plugins=$extended
has.native.controller=false
EOF
    [ ! -f "$policies/$name.policy" ] || cp "$policies/$name.policy" "$to/plugin-security.policy"
    rm -rf "$home/modules/$name"
    mv "$to" "$home/modules/$name"
    say "module $name: $(cd "$home/modules/$name" && ls | grep -v -e '^plugin-' | tr '\n' ' ')${shared[*]:+(${#shared[@]} dependencies left out: lib/ has them)}"
  done <<<"$modules_table"
  rm -rf "$work" # the jars stay in Maven's local repository
fi

# install_zip NAME ZIP_NAME [MAVEN_COORDS]: installs plugin NAME from OSCCR_PLUGIN_DIR (checked
# against SHA256SUMS there), else from Maven when it is published there; fails with the fix.
install_zip() {
  local name=$1 zip=$2 coords=${3:-} path=""
  if [ -d "$home/plugins/$name" ]; then
    say "$name already installed"
    return 0
  fi
  if [ -n "${OSCCR_PLUGIN_DIR:-}" ] && [ -f "$OSCCR_PLUGIN_DIR/$zip" ]; then
    verify_sum "$OSCCR_PLUGIN_DIR" "$OSCCR_PLUGIN_DIR/$zip"
    path="$OSCCR_PLUGIN_DIR/$zip"
  elif [ -n "$coords" ] && say "fetching $coords through Maven" && fetch "$coords"; then
    path="$downloads/$zip"
  else
    {
      echo "opensearch: ERROR: no $zip (plugin $name) in OSCCR_PLUGIN_DIR=${OSCCR_PLUGIN_DIR:-<not set>}${coords:+ nor on Maven ($coords)}."
      echo "opensearch: local nodes run it like the services they stand for; supply it with:"
      echo "opensearch:   OSCCR_PLUGIN_DIR=/folder/with/$zip make opensearch   (checked against SHA256SUMS there)"
    } >&2
    exit 1
  fi
  say "installing $name from $path"
  "$home/bin/opensearch-plugin" install --batch "file://$(readlink -f "$path")" >"$dir/$name-install.log" 2>&1 ||
    { cat "$dir/$name-install.log" >&2; die "installing $name failed"; }
  [ -d "$home/plugins/$name" ] || die "opensearch-plugin install left no $home/plugins/$name"
}
# ISM extends job-scheduler, which is installed first.
install_zip opensearch-job-scheduler "opensearch-job-scheduler-$plugin_version.zip" "org.opensearch.plugin:opensearch-job-scheduler:$plugin_version:zip"
install_zip opensearch-index-management "opensearch-index-management-$plugin_version.zip"

ln -sfn "opensearch-$version" "$dir/current"
say "ready: $dir/current -> opensearch-$version (plugins: $(ls "$home/plugins" | tr '\n' ' '))"

# The secured distribution: the same OpenSearch and CCR plugin (hard links: no extra disk) plus
# the security plugin from Maven, for secured services and the tests of secured clusters.
security_coords="org.opensearch.plugin:opensearch-security:$plugin_version:zip"
secure_home="$dir/opensearch-$version-secure"
# same_content: whether the secured distribution has every module and plugin the plain one has
# (an older secured install is built again from the plain one when not).
same_content() {
  local m
  for m in "$home"/modules/* "$home"/plugins/*; do
    [ -e "$secure_home/${m#"$home"/}" ] || return 1
  done
}
if [ -d "$secure_home/plugins/opensearch-security" ] && same_content; then
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
