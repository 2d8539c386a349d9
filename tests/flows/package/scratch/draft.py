x = 1  # ignored by .grangeignore
