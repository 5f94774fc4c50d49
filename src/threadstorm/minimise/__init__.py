"""minimise"""
