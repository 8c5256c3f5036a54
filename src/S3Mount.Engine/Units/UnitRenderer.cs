using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using S3Mount.Engine.Model;

namespace S3Mount.Engine.Units;

/// <summary>Turns a validated <see cref="MountSpec"/> into the exact systemd unit S3Mount installs.</summary>
public static class UnitRenderer
{
    /// <summary>The unit format S3Mount writes; recorded in each unit as <c>X-S3Mount-Format=</c>.</summary>
    public const int FormatVersion = 1;

    /// <summary>Where official packages and the Amazon Linux package put the binary.</summary>
    public const string DefaultMountS3Path = "/usr/bin/mount-s3";

    /// <summary>mount-s3 gives up after 30 s; systemd waits this long, so a slow cache directory still gets its chance.</summary>
    public const int StartTimeoutSeconds = 90;

    public const int RestartSeconds = 2;
    public const int StartLimitIntervalSeconds = 600;
    public const int StartLimitBurst = 10;

    /// <summary>The argv of <c>ExecStart=</c>: binary, options in canonical order, extra arguments, bucket, path.</summary>
    public static IReadOnlyList<string> ExecStartArgv(MountSpec spec, string mountS3Path = DefaultMountS3Path)
    {
        var argv = new List<string> { mountS3Path };
        if (spec.Prefix is not null)
        {
            argv.Add("--prefix");
            argv.Add(spec.Prefix);
        }

        argv.AddRange(OptionCatalog.Arguments(spec.Options));
        argv.AddRange(spec.ExtraArguments);
        argv.Add(spec.Bucket);
        argv.Add(spec.Path);
        return argv;
    }

    /// <summary>
    /// The shell snippet (run as root by <c>ExecStartPre=</c> and <c>ExecStopPost=</c>) that lazily unmounts a
    /// mountpoint-s3 mount left at the path, as a crashed or killed daemon leaves it ("Transport endpoint is not connected").
    /// It reads /proc/self/mountinfo (never stats the dead path); $1 is the path as mountinfo escapes it, $2 the path.
    /// </summary>
    public const string CleanupScript =
        "M=\"$1\" awk '{for(i=7;i<=NF;i++)if($i==\"-\")break} $5==ENVIRON[\"M\"]&&$(i+2)==\"mountpoint-s3\"{f=1} END{exit !f}' /proc/self/mountinfo && umount -l \"$2\"";

    public const string CleanupArgv0 = "s3mount-cleanup";

    /// <summary>Renders the unit file.</summary>
    public static string Render(MountSpec spec, string mountS3Path = DefaultMountS3Path)
    {
        var path = spec.Path;
        var cleanup = string.Join(" ", new[] { "/bin/sh", "-c", CleanupScript, CleanupArgv0, MountPath.ToMountInfo(path), path }.Select(SystemdSyntax.QuoteExecArg));
        var sb = new StringBuilder();
        void L(string line) => sb.Append(line).Append('\n');

        L("# Managed by S3Mount. Change it with New-S3MountService -Force (or Remove-S3MountService), not by hand:");
        L("# S3Mount reads the X-S3Mount-* keys below to list and manage this mount.");
        L("[Unit]");
        L("Description=" + SystemdSyntax.EscapeSpecifiers($"Mountpoint for Amazon S3: {spec.Uri} at {path}"));
        L("Documentation=https://github.com/awslabs/mountpoint-s3");
        L("Wants=network-online.target");
        L("After=network-online.target");
        L("Before=remote-fs.target");
        L("AssertPathIsDirectory=" + SystemdSyntax.EscapeSpecifiers(path));
        L("StartLimitIntervalSec=" + StartLimitIntervalSeconds.ToString(CultureInfo.InvariantCulture));
        L("StartLimitBurst=" + StartLimitBurst.ToString(CultureInfo.InvariantCulture));
        L("X-S3Mount-Format=" + FormatVersion.ToString(CultureInfo.InvariantCulture));
        L("X-S3Mount-Bucket=" + XValue.Encode(spec.Bucket));
        if (spec.Prefix is not null)
        {
            L("X-S3Mount-Prefix=" + XValue.Encode(spec.Prefix));
        }

        L("X-S3Mount-Path=" + XValue.Encode(path));
        L(string.Empty);
        L("[Service]");
        L("Type=forking");
        L("User=" + spec.User);
        if (spec.Group is not null)
        {
            L("Group=" + spec.Group);
        }

        foreach (var e in spec.Environment)
        {
            L("Environment=" + SystemdSyntax.QuoteEnvironment(e));
        }

        L("ExecStartPre=-+" + cleanup);
        L("ExecStart=" + string.Join(" ", ExecStartArgv(spec, mountS3Path).Select(SystemdSyntax.QuoteExecArg)));
        L("ExecStopPost=-+" + cleanup);
        L("Restart=on-failure");
        L("RestartSec=" + RestartSeconds.ToString(CultureInfo.InvariantCulture));
        L("TimeoutStartSec=" + StartTimeoutSeconds.ToString(CultureInfo.InvariantCulture));
        L("TimeoutStopSec=30");
        L(string.Empty);
        L("[Install]");
        L("WantedBy=remote-fs.target");
        return sb.ToString();
    }
}

/// <summary>
/// Encoding of <c>X-S3Mount-*</c> values: readable, but <c>%</c>, <c>\</c> and leading or trailing spaces are
/// percent-encoded so systemd's line handling (continuations, trimming) cannot change them.
/// </summary>
public static class XValue
{
    public static string Encode(string value)
    {
        var sb = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            var edge = i == 0 || i == value.Length - 1;
            sb.Append(c switch
            {
                '%' => "%25",
                '\\' => "%5C",
                _ when char.IsWhiteSpace(c) && edge => "%" + ((int)c).ToString("X2", CultureInfo.InvariantCulture),
                _ => c.ToString(),
            });
        }

        return sb.ToString();
    }

    public static string Decode(string value) => Scripts.ResultBlock.Decode(value.Length == 0 ? "~" : value);
}
