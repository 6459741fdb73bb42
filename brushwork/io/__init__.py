"""Files in and out: image decoding/validation/saving (`images`), the one atomic file write (`files`)
and weights files with their manifest (`weights`)."""
