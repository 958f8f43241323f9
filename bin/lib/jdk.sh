# Sourced by the bin/ launchers: exports JAVA_HOME pointing at a JDK >= 25, or exits with a message.
# Order: $JAVA_HOME, then the usual install folders, then the java on PATH.

vnet_java_major() { # prints the feature release of the java binary in $1, or nothing
  "$1" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java\.specification\.version = \([0-9][0-9]*\).*/\1/p' | head -n 1
}

vnet_find_jdk() {
  local candidates=() c
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  for c in /usr/lib/jvm/* /usr/java/* /opt/java/* /opt/jdk* /Library/Java/JavaVirtualMachines/*/Contents/Home \
           "$HOME"/.sdkman/candidates/java/* "$HOME"/.jdks/*; do
    [ -d "$c" ] && candidates+=("$c")
  done
  if command -v javac >/dev/null 2>&1; then
    c=$(readlink -f "$(command -v javac)"); candidates+=("${c%/bin/javac}")
  fi
  local best="" best_major=0 major
  for c in "${candidates[@]}"; do
    [ -x "$c/bin/java" ] && [ -x "$c/bin/javac" ] || continue
    major=$(vnet_java_major "$c/bin/java")
    [ -n "$major" ] || continue
    # JAVA_HOME wins when it is new enough; otherwise take the newest JDK found.
    if [ "$c" = "${JAVA_HOME:-}" ] && [ "$major" -ge 25 ]; then best=$c; break; fi
    if [ "$major" -ge 25 ] && [ "$major" -gt "$best_major" ]; then best=$c; best_major=$major; fi
  done
  if [ -z "$best" ]; then
    echo "vnet: no JDK 25 or newer found (looked at JAVA_HOME='${JAVA_HOME:-}', /usr/lib/jvm, /usr/java, /opt/java, ~/.sdkman, ~/.jdks and the javac on PATH)." >&2
    echo "vnet: install one (e.g. Temurin 25) and set JAVA_HOME to it." >&2
    exit 1
  fi
  export JAVA_HOME=$best
  export PATH="$JAVA_HOME/bin:$PATH"
}
vnet_find_jdk
