#!/usr/bin/env bash
# Builds the document fixtures from handbook.md with the real tools people's files come
# from: pandoc writes handbook.docx and handbook.html, LibreOffice (headless) prints the
# DOCX to handbook.pdf (one page per top-level section), Ghostscript rasterises that PDF
# into scanned.pdf (no text layer), and qpdf encrypts it into encrypted.pdf. The files
# are checked in so tests need none of these tools; TestFixturesRegenerate runs this
# script into a temporary directory and compares what it extracts.
#
# Usage: make.sh [output directory]  (default: this script's directory)
# Needs: pandoc, soffice (libreoffice-writer-nogui), gs (ghostscript), qpdf.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mkdir -p "${1:-$here}" && cd "${1:-$here}" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

pandoc --from markdown --to docx --output "$out/handbook.docx" "$here/handbook.md"
# Raw OpenXML page breaks mean nothing in HTML; pandoc drops them there.
pandoc --from markdown --to html5 --standalone --metadata pagetitle=Handbook \
	--output "$out/handbook.html" "$here/handbook.md"

# A private profile keeps LibreOffice from touching the user's, and lets two runs coexist.
soffice -env:UserInstallation="file://$work/profile" --headless --norestore \
	--convert-to pdf --outdir "$work" "$out/handbook.docx" >/dev/null 2>&1
cp "$work/handbook.pdf" "$out/handbook.pdf"

gs -q -dNOPAUSE -dBATCH -dSAFER -sDEVICE=pdfimage24 -r50 \
	-sOutputFile="$out/scanned.pdf" "$out/handbook.pdf"
qpdf --encrypt secret owner 256 -- \
	"$out/handbook.pdf" "$out/encrypted.pdf"
