print("egressd")
