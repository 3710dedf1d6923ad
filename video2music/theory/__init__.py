"""Music theory primitives: the chord vocabulary and keys, harmony rules, the grid of bars, and
chord progressions with times. Plain data and rules; nothing here reads video or writes files."""
