#!/bin/sh
# docker/buildinfo.sh BINARY REVISION VARIANT — prints /usr/share/quire/BUILDINFO: what identifies a
# build of the quire binary (docs/runbook.md, "Is this image's binary a rebuild of its revision?").
# binary_sha256 is of the binary exactly as installed in the image (debug sections stripped).
set -eu
bin=$1 rev=$2 variant=$3
echo "revision=$rev"
echo "variant=$variant"
echo "binary=/usr/local/bin/quire"
echo "binary_sha256=$(sha256sum "$bin" | cut -d' ' -f1)"
echo "binary_bytes=$(wc -c <"$bin" | tr -d ' ')"
echo "source_date_epoch=${SOURCE_DATE_EPOCH:-unset}"
echo "compiler=$(c++ --version | head -n 1)"
echo "build_type=Release"
