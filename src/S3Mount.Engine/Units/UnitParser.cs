using System;
using System.Collections.Generic;
using System.Linq;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;

namespace S3Mount.Engine.Units;

/// <summary>Who wrote a unit.</summary>
public enum UnitOrigin
{
    /// <summary>Written by S3Mount (it carries <c>X-S3Mount-Format=</c>).</summary>
    S3Mount,

    /// <summary>Written by the field recipe's mount.sh or by hand; listed and managed all the same.</summary>
    Recipe,
}

/// <summary>One <c>Key=Value</c> of a unit file.</summary>
public sealed record UnitEntry(string Section, string Key, string Value);

/// <summary>A unit file read back into the model.</summary>
public sealed class ParsedUnit
{
    internal ParsedUnit(MountSpec spec, UnitOrigin origin, int? formatVersion, string executable, IReadOnlyList<string> warnings, IReadOnlyList<UnitEntry> entries)
    {
        Spec = spec;
        Origin = origin;
        FormatVersion = formatVersion;
        Executable = executable;
        Warnings = warnings;
        Entries = entries;
    }

    public MountSpec Spec { get; }

    public UnitOrigin Origin { get; }

    /// <summary>The <c>X-S3Mount-Format=</c> of an S3Mount unit; null for recipe units.</summary>
    public int? FormatVersion { get; }

    /// <summary>The mount-s3 binary <c>ExecStart=</c> runs.</summary>
    public string Executable { get; }

    /// <summary>What is wrong with the unit but does not stop it being listed (the recipe defects, typos, foreign ExecStop).</summary>
    public IReadOnlyList<string> Warnings { get; }

    public IReadOnlyList<UnitEntry> Entries { get; }
}

/// <summary>Reads any mountpoint-s3 unit (S3Mount's own or a field recipe's) back into a <see cref="MountSpec"/>.</summary>
public static class UnitParser
{
    private static readonly HashSet<string> KnownUnitKeys = new(StringComparer.Ordinal)
    {
        "Description", "Documentation", "Wants", "Requires", "After", "Before", "BindsTo", "PartOf", "Conflicts", "Requisite",
        "AssertPathIsDirectory", "AssertPathExists", "ConditionPathIsDirectory", "ConditionPathExists", "StartLimitIntervalSec", "StartLimitBurst",
        "DefaultDependencies", "RequiresMountsFor", "OnFailure",
    };

    private static readonly HashSet<string> KnownServiceKeys = new(StringComparer.Ordinal)
    {
        "Type", "User", "Group", "Environment", "EnvironmentFile", "ExecStartPre", "ExecStart", "ExecStartPost", "ExecStop", "ExecStopPost",
        "ExecReload", "Restart", "RestartSec", "RestartSteps", "RestartMaxDelaySec", "RestartPreventExitStatus", "TimeoutStartSec", "TimeoutStopSec", "TimeoutSec", "KillMode", "PIDFile", "RemainAfterExit",
        "WorkingDirectory", "SupplementaryGroups", "Nice", "LimitNOFILE", "MemoryMax", "CPUQuota", "StandardOutput", "StandardError", "SyslogIdentifier",
    };

    /// <summary>Reads the <c>Key=Value</c> lines of a unit file: sections, comments, backslash continuations.</summary>
    public static IReadOnlyList<UnitEntry> ReadEntries(string text)
    {
        var entries = new List<UnitEntry>();
        var section = string.Empty;
        var lines = text.Replace("\r\n", "\n").Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            while (line.EndsWith("\\", StringComparison.Ordinal) && i + 1 < lines.Length)
            {
                var next = lines[++i];
                var nt = next.TrimStart();
                if (nt.StartsWith("#", StringComparison.Ordinal) || nt.StartsWith(";", StringComparison.Ordinal))
                {
                    continue;
                }

                line = line.Substring(0, line.Length - 1) + " " + next;
            }

            var t = line.Trim();
            if (t.Length == 0 || t[0] == '#' || t[0] == ';')
            {
                continue;
            }

            if (t[0] == '[' && t[t.Length - 1] == ']')
            {
                section = t.Substring(1, t.Length - 2);
                continue;
            }

            var eq = t.IndexOf('=');
            if (eq <= 0)
            {
                continue;
            }

            entries.Add(new UnitEntry(section, t.Substring(0, eq).Trim(), t.Substring(eq + 1).Trim()));
        }

        return entries;
    }

    /// <summary>Parses a unit. Throws <c>S3MountUnitInvalid</c> only when there is no mount-s3 command line to read.</summary>
    public static ParsedUnit Parse(string text, string? unitName = null)
    {
        var entries = ReadEntries(text);
        var warnings = new List<string>();
        string? Get(string section, string key) => entries.LastOrDefault(e => e.Section == section && e.Key == key)?.Value;

        var exec = Get("Service", "ExecStart");
        if (exec is null)
        {
            throw Invalid(unitName, "it has no ExecStart= line");
        }

        var (_, words) = SystemdSyntax.SplitExec(exec);
        if (words.Count < 3)
        {
            throw Invalid(unitName, "its ExecStart= does not name a bucket and a directory");
        }

        var executable = words[0];
        var args = words.Skip(1).ToList();
        var bucketArg = args[args.Count - 2];
        var pathArg = args[args.Count - 1];
        var options = MountOptions.Default;
        var extras = new List<string>();
        var unmodelled = new List<string>();
        string? prefix = null;
        for (var i = 0; i < args.Count - 2; i++)
        {
            var tok = args[i];
            string name;
            string? inline = null;
            if (tok.StartsWith("--", StringComparison.Ordinal))
            {
                var eq = tok.IndexOf('=');
                name = eq > 0 ? tok.Substring(2, eq - 2) : tok.Substring(2);
                inline = eq > 0 ? tok.Substring(eq + 1) : null;
            }
            else if (tok.Length == 2 && tok[0] == '-')
            {
                name = tok.Substring(1);
            }
            else
            {
                extras.Add(tok);
                warnings.Add($"ExecStart= has the stray word '{tok}' before the bucket.");
                continue;
            }

            if (name == "prefix")
            {
                prefix = inline ?? (i + 1 < args.Count - 2 ? args[++i] : null);
                continue;
            }

            var d = OptionCatalog.Find(name);
            if (d is null)
            {
                extras.Add(tok);
                if (tok.StartsWith("--", StringComparison.Ordinal) && inline is null && i + 1 < args.Count - 2 && !args[i + 1].StartsWith("-", StringComparison.Ordinal))
                {
                    extras.Add(args[++i]);
                }

                unmodelled.Add(tok);
                continue;
            }

            var values = new List<string>();
            if (d.Arity != OptionArity.Flag)
            {
                if (inline is not null)
                {
                    values.Add(inline);
                }
                else if (i + 1 < args.Count - 2)
                {
                    values.Add(args[++i]);
                }
                else
                {
                    warnings.Add($"ExecStart= has --{d.Name} without a value.");
                    continue;
                }
            }

            try
            {
                options = d.Apply(options, values);
            }
            catch (S3MountException e)
            {
                extras.Add(tok);
                extras.AddRange(values);
                warnings.Add(e.Message);
            }
        }

        var (bucket, uriPrefix) = Bucket.SplitUri(bucketArg);
        if (uriPrefix is not null)
        {
            if (prefix is not null)
            {
                warnings.Add("ExecStart= gives a prefix both in the bucket URI and with --prefix; mount-s3 refuses that.");
            }

            prefix ??= uriPrefix;
        }

        var path = pathArg;
        try
        {
            path = MountPath.NormalizeAbsolute(pathArg, "The mount path", ErrorIds.PathInvalid, refuseSystem: false);
        }
        catch (S3MountException e)
        {
            warnings.Add(e.Message);
        }

        var format = Get("Unit", "X-S3Mount-Format");
        var origin = format is null ? UnitOrigin.Recipe : UnitOrigin.S3Mount;
        int? formatVersion = int.TryParse(format, out var fv) ? fv : null;
        if (origin == UnitOrigin.S3Mount)
        {
            var xb = Get("Unit", "X-S3Mount-Bucket");
            var xp = Get("Unit", "X-S3Mount-Prefix");
            var xpath = Get("Unit", "X-S3Mount-Path");
            if (xb is not null && XValue.Decode(xb) != bucket)
            {
                warnings.Add($"X-S3Mount-Bucket= says '{XValue.Decode(xb)}' but ExecStart= mounts '{bucket}': the unit was edited by hand.");
            }

            if (xpath is not null && XValue.Decode(xpath) != path)
            {
                warnings.Add($"X-S3Mount-Path= says '{XValue.Decode(xpath)}' but ExecStart= mounts at '{path}': the unit was edited by hand.");
            }

            if ((xp is null ? null : XValue.Decode(xp)) != prefix)
            {
                warnings.Add("X-S3Mount-Prefix= and the --prefix of ExecStart= differ: the unit was edited by hand.");
            }
        }
        else
        {
            Recipe(entries, path, warnings);
            warnings.AddRange(unmodelled.Select(t => $"ExecStart= has the option '{t}', which S3Mount does not model; it is kept as an extra argument."));
        }

        var health = 0;
        if (origin == UnitOrigin.S3Mount && Get("Unit", "X-S3Mount-HealthCheck") is { } hc)
        {
            if (!int.TryParse(hc, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out health))
            {
                warnings.Add($"X-S3Mount-HealthCheck= says '{hc}', which is not a number of seconds: the unit was edited by hand; it reads as no health check.");
                health = 0;
            }
        }

        var env = entries.Where(e => e.Section == "Service" && e.Key == "Environment")
            .SelectMany(e => SystemdSyntax.SplitEnvironment(e.Value)).ToList();
        var user = Get("Service", "User");
        var spec = new MountSpec
        {
            Bucket = bucket,
            Prefix = prefix,
            Path = path,
            User = string.IsNullOrEmpty(user) ? "root" : user!,
            Group = Get("Service", "Group") is { Length: > 0 } g ? g : null,
            Options = options,
            ExtraArguments = extras,
            Environment = env,
            HealthCheckIntervalSeconds = health,
        };
        return new ParsedUnit(spec, origin, formatVersion, executable, warnings, entries);
    }

    // What the field recipe's units get wrong, said once per unit so listing can show it.
    private static void Recipe(IReadOnlyList<UnitEntry> entries, string path, List<string> warnings)
    {
        bool Has(string section, string key, string? value = null) =>
            entries.Any(e => e.Section == section && e.Key == key && (value is null || e.Value.Split(' ').Contains(value)));

        if (!Has("Unit", "After", "network-online.target"))
        {
            warnings.Add("No After=network-online.target: the mount may start before the network and credentials are ready.");
        }

        if (!Has("Service", "Restart"))
        {
            warnings.Add("No Restart=: a crashed mount stays dead until someone acts.");
        }

        foreach (var e in entries)
        {
            var known = e.Section switch
            {
                "Unit" => KnownUnitKeys.Contains(e.Key) || e.Key.StartsWith("X-", StringComparison.Ordinal),
                "Service" => KnownServiceKeys.Contains(e.Key) || e.Key.StartsWith("X-", StringComparison.Ordinal),
                _ => true,
            };
            if (!known)
            {
                warnings.Add($"Unknown key {e.Key}= in [{e.Section}]; systemd ignores it.");
            }
        }

        foreach (var stop in entries.Where(e => e.Section == "Service" && e.Key == "ExecStop"))
        {
            var (_, w) = SystemdSyntax.SplitExec(stop.Value);
            var target = w.LastOrDefault();
            if (target is not null && target.StartsWith("/", StringComparison.Ordinal) && w.Count > 1 && target.TrimEnd('/') != path)
            {
                warnings.Add($"ExecStop= unmounts '{target}', not the mount path '{path}'.");
            }
        }
    }

    private static S3MountException Invalid(string? name, string why) =>
        new(ErrorIds.UnitInvalid, S3MountErrorKind.InvalidData, $"The unit {name ?? string.Empty} cannot be read as a mount: {why}.".Replace("  ", " "), name);
}
