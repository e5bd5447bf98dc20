#!/usr/bin/env bash
# Render `fakereview explain` on fabricated reviews and screenshot the page in headless Chromium.
#
#   benchmarks/explain_screenshot.sh MODEL_DIR [OUT_DIR]      (Chromium: apt-get install -y chromium)
#
# Writes OUT_DIR/explain_page.html and OUT_DIR/explain_page.png (default OUT_DIR: /tmp/explain_screenshot).
# The reviews are written here for the purpose (no corpus text), one of them hostile HTML, so the
# screenshot also shows that markup in a review is displayed as text.
set -euo pipefail
model=${1:?usage: $0 MODEL_DIR [OUT_DIR]}
out=${2:-/tmp/explain_screenshot}
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
cat > "$out/reviews.csv" <<'CSV'
id,text
ex1,"My husband and I stayed here for our anniversary and it was absolutely amazing! The staff were so friendly and the room was luxurious. We will definitely be back, I would recommend this hotel to anyone visiting Chicago!"
ex2,"Room 1412 faced the el tracks, so light sleepers should ask for the other side. Check-in took ten minutes, the desk clerk found us a late checkout, and the $45 valet fee was steep."
ex3,"Great <script>alert('x')</script> location &   <b>friendly</b> staff.    The   café  downstairs was nice."
CSV
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
python3 -m fakereview_nlp.cli.main explain "$out/reviews.csv" -o "$out/explain_page.html" --model "$model" --id-column id
# --no-sandbox: Chromium refuses to run as root otherwise (containers); the page runs no script anyway.
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,900 \
    --screenshot="$out/explain_page.png" "file://$out/explain_page.html" 2>/dev/null
ls -l "$out/explain_page.html" "$out/explain_page.png"
