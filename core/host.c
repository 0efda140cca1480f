/* host.c -- stub, being written */
