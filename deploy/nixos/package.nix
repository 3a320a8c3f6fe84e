# ccci-bot as a Nix package: `pkgs.callPackage ./package.nix { }`.
# Needs a nixpkgs whose setuptools is >= 77 (NixOS 25.05 or later): pyproject.toml declares the
# license as an SPDX expression.
{ lib, python3Packages }:

python3Packages.buildPythonApplication {
  pname = "ccci-bot";
  version = "0.1.0";
  pyproject = true;

  src = lib.cleanSource ../..;

  build-system = [ python3Packages.setuptools ];

  # The runtime dependencies of pyproject.toml; the demo and test extras are not needed on a host.
  dependencies = with python3Packages; [
    matrix-nio
    canonicaljson
    cryptography
    base58
    aiohttp
    docker
    pyyaml
    apscheduler
    prometheus-client
  ] ++ matrix-nio.optional-dependencies.e2e;

  pythonImportsCheck = [ "bot" "commands" ];

  meta = {
    description = "Chat-ops bot for cc-ci: sweep summaries, isolation reruns and root-cause verdicts";
    license = lib.licenses.agpl3Plus;
    mainProgram = "ccci-bot";
  };
}
