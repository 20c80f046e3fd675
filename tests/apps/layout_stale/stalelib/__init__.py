VALUE = "stalelib"
