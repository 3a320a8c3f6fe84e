# services.ccci-bot: the same service as deploy/ccci-bot.service, for a NixOS host configured from a flake.
#
#   imports = [ "${inputs.ccci-bot}/deploy/nixos/module.nix" ];
#   services.ccci-bot = {
#     enable = true;
#     environmentFile = config.sops.secrets."ccci-bot/env".path;  # CCCI_MATRIX_TOKEN=…
#     settings.matrix = { homeserver = "https://matrix.example.org"; user_id = "@ccci-bot:example.org";
#                         access_token_env = "CCCI_MATRIX_TOKEN"; rooms = [ "#cc-ci-ops:example.org" ]; };
#   };
{ config, lib, pkgs, ... }:

let
  cfg = config.services.ccci-bot;
  yaml = pkgs.formats.yaml { };
  configFile = yaml.generate "ccci-bot.yaml" cfg.settings;
in
{
  options.services.ccci-bot = {
    enable = lib.mkEnableOption "ccci-bot, cc-ci's chat-ops bot";

    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = lib.literalExpression "pkgs.callPackage ./package.nix { }";
      description = "The ccci-bot package.";
    };

    settings = lib.mkOption {
      type = yaml.type;
      default = { };
      description = ''
        The bot's config (config.example.yaml documents every key), rendered to YAML. Secrets do not
        belong here: `*_env` keys name variables set by `environmentFile`.
      '';
    };

    environmentFile = lib.mkOption {
      type = lib.types.nullOr lib.types.path;
      default = null;
      example = "/run/secrets/ccci-bot/env";
      description = "KEY=value lines with the secrets (e.g. a sops-nix secret, mode 0400).";
    };

    docker = lib.mkOption {
      type = lib.types.bool;
      default = true;
      description = ''
        Put the bot in the docker group for the node's idle and teardown checks. Root-equivalent;
        with false, also set settings.docker.base_url = null.
      '';
    };

    transientReruns = lib.mkOption {
      type = lib.types.bool;
      default = true;
      description = ''
        Let the bot start transient units (polkit manage-units), so reruns run cc-ci's runner with
        cc-ci's privileges through systemd-run. Root-equivalent, like docker.
      '';
    };
  };

  config = lib.mkIf cfg.enable {
    users.users.ccci-bot = {
      isSystemUser = true;
      group = "ccci-bot";
      extraGroups = lib.optional cfg.docker "docker";
    };
    users.groups.ccci-bot = { };

    services.ccci-bot.settings.data_dir = lib.mkDefault "/var/lib/ccci-bot";

    security.polkit.extraConfig = lib.mkIf cfg.transientReruns ''
      polkit.addRule(function (action, subject) {
        if (action.id == "org.freedesktop.systemd1.manage-units" && subject.user == "ccci-bot") {
          return polkit.Result.YES;
        }
      });
    '';

    systemd.services.ccci-bot = {
      description = "ccci-bot: cc-ci's chat-ops bot";
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ] ++ lib.optional cfg.docker "docker.service";
      path = [ config.systemd.package ]; # systemd-run for reruns
      serviceConfig = {
        Type = "notify";
        NotifyAccess = "main";
        WatchdogSec = "60s";
        ExecStart = "${lib.getExe cfg.package} run --config ${configFile}";
        EnvironmentFile = lib.mkIf (cfg.environmentFile != null) cfg.environmentFile;
        Restart = "on-failure";
        RestartSec = "5s";
        TimeoutStartSec = "5min";
        TimeoutStopSec = "15s";
        LimitNOFILE = 8192; # the HTTP server's connections stay well below it (deploy/ccci-bot.service)

        User = "ccci-bot";
        Group = "ccci-bot";
        StateDirectory = "ccci-bot";
        StateDirectoryMode = "0750";
        WorkingDirectory = "/var/lib/ccci-bot";
        UMask = "0077";

        NoNewPrivileges = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
        PrivateDevices = true;
        ReadOnlyPaths = [ "-/var/lib/cc-ci-runs" "-/var/lib/ci-warm" "-/run/cc-ci-active" ];
        ProtectKernelTunables = true;
        ProtectKernelModules = true;
        ProtectKernelLogs = true;
        ProtectControlGroups = true;
        ProtectClock = true;
        ProtectHostname = true;
        ProtectProc = "invisible";
        RestrictNamespaces = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        LockPersonality = true;
        RemoveIPC = true;
        CapabilityBoundingSet = "";
        AmbientCapabilities = "";
        RestrictAddressFamilies = [ "AF_UNIX" "AF_INET" "AF_INET6" ];
        SystemCallArchitectures = "native";
        SystemCallFilter = [ "@system-service" ];
        SystemCallErrorNumber = "EPERM";
      };
    };
  };
}
