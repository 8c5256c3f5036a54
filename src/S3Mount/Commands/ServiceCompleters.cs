using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using S3Mount.Engine.Units;

namespace S3Mount.Commands;

/// <summary>Reads the mount units of this machine for tab completion (no systemctl, no root needed).</summary>
internal static class LocalUnits
{
    private static readonly string[] Directories = { "/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system" };

    public static IEnumerable<(string Name, string? Path)> Read()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var dir in Directories)
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

/// <summary>Completes -Name from the mount units of this machine.</summary>
public sealed class ServiceNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
        LocalUnits.Complete(LocalUnits.Read().Select(u => u.Name), wordToComplete);
}

/// <summary>Completes -Path from the mount paths of this machine's units.</summary>
public sealed class ServicePathCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
        LocalUnits.Complete(LocalUnits.Read().Where(u => u.Path is not null).Select(u => u.Path!), wordToComplete);
}
