/* loader.c -- stub, being written */
