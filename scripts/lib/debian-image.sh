# Shared by the builder-image scripts: make a Debian bookworm image from
# Debian's packages with mmdebstrap and import it into the engine at
# $DOCKER_HOST. No image can be pulled on the build machines, but Debian's
# mirrors are reachable, so builder images are bootstrapped rather than pulled.
#
#   debian_image_current TAG LABEL MARKER   exit status 0 when TAG's LABEL is MARKER
#   debian_image TAG LABEL MARKER PACKAGES [--change ...]... -- [mmdebstrap options]...
#
# debian_image tags the result only once it is complete, so a failed or
# cut-off bootstrap never replaces a good image, and removes the image it
# replaced.

debian_image_current() {
  local have
  have=$(docker image inspect "$1" --format "{{index .Config.Labels \"$2\"}}" 2>/dev/null || true)
  [[ $have == "$3" ]]
}

# The host's own bookworm sources (the mirror the machine uses), only files
# naming nothing but Debian archives; mmdebstrap's default (deb.debian.org)
# otherwise.
debian_image_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    if [[ -f $f ]] && grep -qE '^[^#]*bookworm' "$f" &&
      ! grep -E '^[^#]*(URIs:|deb )' "$f" | grep -qvE '/debian(-security)?/?( |$)'; then
      echo "$f"
    fi
  done
}

debian_image() {
  local tag=$1 label=$2 marker=$3 packages=$4
  shift 4
  local changes=()
  while [[ $# -gt 0 && $1 != -- ]]; do changes+=("$1"); shift; done
  [[ ${1:-} == -- ]] && shift
  command -v mmdebstrap >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
  }
  local sources old id
  mapfile -t sources < <(debian_image_sources)
  old=$(docker image inspect "$tag" --format '{{.Id}}' 2>/dev/null || true)
  # No docs, man pages or translations: builder images are large enough.
  # shellcheck disable=SC2016 # $1 expands in mmdebstrap's hook shell
  id=$(mmdebstrap --quiet --variant=minbase --include="$packages" \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    "$@" \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
    bookworm - "${sources[@]}" |
    docker import "${changes[@]}" --change "LABEL $label=\"$marker\"" --change 'CMD ["bash"]' -)
  docker tag "$id" "$tag"
  if [[ -n $old && $old != "$id" ]]; then docker image rm "$old" >/dev/null 2>&1 || true; fi
}
