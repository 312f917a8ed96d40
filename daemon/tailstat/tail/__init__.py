"""Tail stage: byte streams of files -> batches of complete lines, exactly once.

The parts, each small enough to hold in one's head (Filebeat's prospector/harvester split, Vector's
file-source):

- `discovery`: which files exist (globs, directory listings, the observation the core decides on);
- `identity`: fingerprints (the head of a file), logrotate's names for a rotation (`name.N`, `name-DATE`,
  `.backup`, olddir), gzip's recorded size;
- `core`: the rotation core, a pure function from (the streams the checkpoint knows, one observation of the
  file system) to decisions (resume here, adopt, retire/remember, forget, count lost) -- no I/O;
- `registry`: finished (retired) files, remembered while they can come back under a watched name;
- `reader`: a stream's state, the bounded LRU of descriptors, reads, line cutting (with the hook for
  "where does the last complete event end", see its docstring), batches;
- `follow`: the run-time event path (a changed path or stream observed, the core asked, its decision carried
  out), with two parts of its own: `compressed` (compressed rotations judged once, counted in `dropped` where
  they hold bytes no stream read) and `unseen` (files created and rotated away between two passes);
- `tailer`: the loop that ties them (events, rescans, restore) and owns the streams.
"""

from tailstat.tail.identity import fingerprint
from tailstat.tail.reader import Batch, Tracked, pass_budget
from tailstat.tail.tailer import Tailer

__all__ = ["Batch", "Tailer", "Tracked", "fingerprint", "pass_budget"]
