using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using S3Mount.Engine.Units;

namespace S3Mount.Commands;

/// <summary>Reads the mount units of this machine, or of the image -Root names, for tab completion (no systemctl, no root needed).</summary>
internal static class LocalUnits
{
    private static readonly string[] Directories = { "/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system" };

    /// <summary>The image root the command line names so far (-Root), resolved like the cmdlet resolves it; empty for this machine.</summary>
    public static string RootOf(IDictionary fakeBoundParameters)
    {
        var root = fakeBoundParameters?["Root"] is { } r ? (r is PSObject p ? p.BaseObject : r).ToString() : null;
        if (string.IsNullOrEmpty(root))
        {
            return string.Empty;
        }

        try
        {
            return System.Management.Automation.Runspaces.Runspace.DefaultRunspace?.SessionStateProxy.Path.GetUnresolvedProviderPathFromPSPath(root) ?? root!;
        }
        catch (Exception e) when (e is ItemNotFoundException or System.Management.Automation.DriveNotFoundException or ProviderNotFoundException or NotSupportedException or PSArgumentException or InvalidOperationException)
        {
            return root!;
        }
    }

    public static IEnumerable<(string Name, string? Path)> Read(string root = "")
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var dir in Directories.Select(d => root.TrimEnd('/') + d))
        {
            string[] files;
            try
            {
                files = Directory.Exists(dir) ? Directory.GetFiles(dir, UnitNames.Prefix + "*" + UnitNames.Suffix) : Array.Empty<string>();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            foreach (var f in files.OrderBy(f => f, StringComparer.Ordinal))
            {
                var name = Path.GetFileName(f);
                if (!seen.Add(name))
                {
                    continue;
                }

                string? path = null;
                try
                {
                    path = UnitParser.Parse(File.ReadAllText(f), name).Spec.Path;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or Engine.Errors.S3MountException)
                {
                }

                yield return (name, path);
            }
        }
    }

    public static IEnumerable<CompletionResult> Complete(IEnumerable<string> candidates, string word)
    {
        var pattern = WildcardPattern.Get((word ?? string.Empty).Trim('\'', '"') + "*", WildcardOptions.IgnoreCase);
        return candidates.Where(c => pattern.IsMatch(c)).Distinct().Select(c =>
            new CompletionResult(c.IndexOfAny(new[] { ' ', '\'', '"', '$', '`', '(', ')', ';', '&', '@', '{', '}', '#' }) >= 0 ? "'" + c.Replace("'", "''") + "'" : c, c, CompletionResultType.ParameterValue, c));
    }
}

/// <summary>Completes -Name from the mount units of this machine (or of the image -Root names).</summary>
public sealed class ServiceNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
        LocalUnits.Complete(LocalUnits.Read(LocalUnits.RootOf(fakeBoundParameters)).Select(u => u.Name), wordToComplete);
}

/// <summary>Completes -Path from the mount paths of this machine's units (or of the image -Root names).</summary>
public sealed class ServicePathCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
        LocalUnits.Complete(LocalUnits.Read(LocalUnits.RootOf(fakeBoundParameters)).Where(u => u.Path is not null).Select(u => u.Path!), wordToComplete);
}

/// <summary>Completes AWS Region codes (every partition the AWS SDK knows).</summary>
public sealed class RegionCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
        LocalUnits.Complete(Amazon.RegionEndpoint.EnumerableAllRegions.Select(r => r.SystemName).OrderBy(r => r, StringComparer.Ordinal), wordToComplete);
}

/// <summary>Completes the N and N% forms of -MaxConcurrency and -MaxErrors.</summary>
public sealed class CountOrPercentCompleter : IArgumentCompleter
{
    private static readonly string[] Forms = { "1", "5", "10", "50", "1%", "5%", "10%", "25%", "50%", "100%" };

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
        LocalUnits.Complete(parameterName.StartsWith("MaxError", StringComparison.OrdinalIgnoreCase) ? new[] { "0" }.Concat(Forms) : Forms, wordToComplete);
}

/// <summary>Completes -User from the passwd of this machine (or of the image -Root names): service users, not system accounts.</summary>
public sealed class UserCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
        LocalUnits.Complete(Accounts(LocalUnits.RootOf(fakeBoundParameters) + "/etc/passwd"), wordToComplete);

    internal static IEnumerable<string> Accounts(string file)
    {
        string[] lines;
        try
        {
            lines = File.Exists(file) ? File.ReadAllLines(file) : Array.Empty<string>();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            yield break;
        }

        foreach (var l in lines)
        {
            var f = l.Split(':');
            if (f.Length >= 3 && f[0].Length > 0 && !f[0].StartsWith("#", StringComparison.Ordinal)
                && long.TryParse(f[2], out var id) && (id == 0 || (id >= 1000 && id < 60000)))
            {
                yield return f[0];
            }
        }
    }
}

/// <summary>Completes -Group from the group file of this machine (or of the image -Root names).</summary>
public sealed class GroupCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
        LocalUnits.Complete(UserCompleter.Accounts(LocalUnits.RootOf(fakeBoundParameters) + "/etc/group"), wordToComplete);
}

/// <summary>Completes -Version: latest, and the releases S3Mount knows (each option records the release that brought it).</summary>
public sealed class VersionCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
        LocalUnits.Complete(new[] { "latest" }.Concat(Engine.Model.OptionCatalog.KnownReleases.OrderByDescending(v => v).Select(v => v.ToString())), wordToComplete);
}
