#!/usr/bin/env python3
"""old_header.py IN OUT - a copy of prange.h as an older client would have compiled it:
prange_opts without its last fields (label, key), so sizeof(prange_opts) is smaller than
the library's. Fails loudly if the header no longer has the expected shape."""
import re
import sys

src = open(sys.argv[1]).read()
# Drop every prange_opts field after cost_ns, up to the closing brace.
m = re.search(r'(    double cost_ns;[^\n]*\n)(.*?)(\} prange_opts;)', src, re.S)
if not m or 'label' not in m.group(2) or 'key' not in m.group(2):
    sys.exit('old_header.py: prange_opts does not end with cost_ns, label, key')
src = src[:m.start(2)] + src[m.end(2):]
init = '#define PRANGE_OPTS_INIT {sizeof(prange_opts), 0, 0, 0, PRANGE_SCHEDULE_AUTO, 0.0, NULL, NULL}'
if init not in src:
    sys.exit('old_header.py: PRANGE_OPTS_INIT changed')
src = src.replace(init, '#define PRANGE_OPTS_INIT {sizeof(prange_opts), 0, 0, 0, PRANGE_SCHEDULE_AUTO, 0.0}\n'
                  '#define PRANGE_TEST_OLD_OPTS 1')
open(sys.argv[2], 'w').write(src)
