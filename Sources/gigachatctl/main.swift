print("gigachatctl")
