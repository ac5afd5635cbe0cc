#!/bin/bash
# crio-userns-override: puts the crio-userns RPMs in place with rpm-ostree
# before CRI-O and the kubelet start. crio-userns-override.service runs it
# (Type=oneshot, required by crio.service and kubelet.service); the
# MachineConfig of crio-userns-machineconfig --mode override writes it to
# /usr/local/bin and its settings to /etc/crio-userns/override.env:
#
#   CRIO_RPM_URL, CRIO_RPM_SHA256   the cri-o RPM (rpm-ostree override replace)
#   HOOK_RPM_URL, HOOK_RPM_SHA256   the crio-userns-hook RPM (rpm-ostree install)
#   EXPECT_PATHS                    files the packages must have put in place
#
# Exit 0 only when the wanted builds are the ones installed: otherwise CRI-O
# and the kubelet do not start on this boot, the node stays NotReady and the
# reason is in `journalctl -u crio-userns-override`.
set -euo pipefail

state=${CRIO_USERNS_OVERRIDE_STATE:-/var/lib/crio-userns-override}
boot_id_file=${CRIO_USERNS_BOOT_ID_FILE:-/proc/sys/kernel/random/boot_id}
attempts=${CRIO_USERNS_DOWNLOAD_ATTEMPTS:-5}
retry_delay=${CRIO_USERNS_RETRY_DELAY:-30}
nevra_format='%{NAME}-%{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}\n'

log() { echo "crio-userns-override: $*" >&2; }

fail() {
	log "FAILED: $*"
	log "CRI-O and the kubelet stay stopped on this boot; fix the MachineConfig, or roll back (delete it, then rpm-ostree override reset cri-o)"
	exit 1
}

# fetch URL SHA256: prints the path of the RPM, downloaded at most once and
# never handed on unless its sha256 is SHA256.
fetch() {
	local url=$1 sum=$2 dest="$state/$2.rpm" i got
	if [ -f "$dest" ] && [ "$(sha256sum <"$dest" | cut -d' ' -f1)" = "$sum" ]; then
		echo "$dest"
		return
	fi
	rm -f "$dest" "$dest.part"
	for ((i = 1; i <= attempts; i++)); do
		if curl --fail --silent --show-error --location --proto =https,http --proto-redir =https,http \
			--connect-timeout 30 --max-time 600 --output "$dest.part" "$url"; then
			break
		fi
		rm -f "$dest.part"
		log "download of $url failed (attempt $i of $attempts; proxy settings come from /etc/mco/proxy.env)"
		if ((i < attempts)); then
			sleep "$retry_delay"
		fi
	done
	[ -f "$dest.part" ] || fail "cannot download $url after $attempts attempts"
	got=$(sha256sum <"$dest.part" | cut -d' ' -f1)
	if [ "$got" != "$sum" ]; then
		rm -f "$dest.part"
		fail "$url has sha256 $got, the MachineConfig pins $sum: refusing it"
	fi
	mv "$dest.part" "$dest"
	echo "$dest"
}

mkdir -p "$state"
boot_id=$(cat "$boot_id_file")
marker="$state/reboot-requested"

# Each wanted package: "how file nevra".
todo=()
wanted=()
for spec in "cri-o override-replace ${CRIO_RPM_URL:-} ${CRIO_RPM_SHA256:-}" \
	"crio-userns-hook install ${HOOK_RPM_URL:-} ${HOOK_RPM_SHA256:-}"; do
	read -r name how url sum <<<"$spec"
	[ -n "${url:-}" ] || continue
	[ -n "${sum:-}" ] || fail "no sha256 for $url"
	file=$(fetch "$url" "$sum")
	# The package's identity comes from its header, never from a file name.
	header=$(rpm -qp --qf "%{NAME}\n" "$file") || fail "$url is not an RPM"
	[ "$header" = "$name" ] || fail "$url is package $header, want $name"
	want=$(rpm -qp --qf "$nevra_format" "$file")
	have=$(rpm -q --qf "$nevra_format" "$name" 2>/dev/null || true)
	wanted+=("$want")
	if [ "$have" = "$want" ]; then
		log "$want is installed"
		continue
	fi
	todo+=("$how $file $want ${have:-none}")
done
[ ${#wanted[@]} -gt 0 ] || fail "no RPM configured (CRIO_RPM_URL, HOOK_RPM_URL)"

if [ ${#todo[@]} -eq 0 ]; then
	for p in ${EXPECT_PATHS:-}; do
		[ -e "$p" ] || fail "${wanted[*]} installed, yet $p is missing: the RPM is not a crio-userns build"
	done
	rm -f "$marker"
	log "ready: ${wanted[*]}"
	exit 0
fi

if [ -f "$marker" ]; then
	read -r marked_boot marked_want <"$marker" || true
	if [ "${marked_want:-}" != "${wanted[*]}" ]; then
		# An earlier request for other builds: this one starts afresh.
		rm -f "$marker"
	elif [ "$marked_boot" = "$boot_id" ]; then
		fail "a reboot to activate $marked_want is already pending; not asking again"
	else
		# The node rebooted for this change and still runs the old build: the
		# override is recorded but inactive (image-based nodes: coreos/rpm-ostree#5550).
		status=$(rpm-ostree status 2>&1 || true)
		fail "rebooted to activate $marked_want, yet the node still runs ${todo[*]##* }: the rpm-ostree override is inactive; use image mode (crio-userns-machineconfig --mode image). rpm-ostree status: $status"
	fi
fi

for item in "${todo[@]}"; do
	read -r how file want have <<<"$item"
	log "staging $want (installed: $have)"
	case $how in
	override-replace) out=$(rpm-ostree override replace "$file" 2>&1) || fail "rpm-ostree override replace $want: $out" ;;
	install) out=$(rpm-ostree install --idempotent "$file" 2>&1) || fail "rpm-ostree install $want: $out" ;;
	esac
	echo "$out" >&2
	if grep -q "Inactive base replacements" <<<"$out"; then
		rpm-ostree cleanup --pending >&2 || true
		fail "rpm-ostree records $want as an inactive base replacement (same build as the base, or an image-based node: coreos/rpm-ostree#5550); use image mode (crio-userns-machineconfig --mode image)"
	fi
done

echo "$boot_id ${wanted[*]}" >"$marker.tmp"
mv "$marker.tmp" "$marker"
log "rebooting once to activate ${wanted[*]}"
systemctl reboot
# Not ready on this boot: CRI-O and the kubelet must not start before the reboot.
exit 1
