print("weights")
