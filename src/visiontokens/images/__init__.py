"""Reading images: header twins, data URLs and files, and the guarded fetcher."""
