"""Chat logic without a transport: parsing commands, access rules, building Matrix message contents."""
