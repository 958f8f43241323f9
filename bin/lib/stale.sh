# Sourced by the bin/ launchers that build their own jars: vnet_stale JAR succeeds when JAR is
# missing, VNET_REBUILD=1, or any source, POM, config or service file of the checkout is newer than it,
# so that a launcher never runs jars older than the code beside it.
vnet_stale() {
  local jar=$1 root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  [ -z "$jar" ] || [ ! -f "$jar" ] || [ "${VNET_REBUILD:-0}" = 1 ] && return 0
  [ -n "$(find "$root" -path "$root/.git" -prune -o -path '*/target' -prune -o \
      \( -name '*.java' -o -name 'pom.xml' -o -name '*.conf' -o -name 'dev.vnet.*' \) -newer "$jar" -print -quit)" ]
}
