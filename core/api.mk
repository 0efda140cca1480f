# core/api.mk -- build rules of the API's extras (OpenAPI document, its
# test), included by the top Makefile.am. Placeholder, being written.
