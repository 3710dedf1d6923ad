"""What one generation produced and how it is written: the result, the writer, the plot, the
lead sheet."""
