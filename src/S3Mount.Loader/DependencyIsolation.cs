using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;

namespace S3Mount.Loader;

/// <summary>
/// The load context that holds S3Mount.Engine and its dependencies (AWSSDK.Core, AWSSDK.S3, ...), so another module's
/// copy of the same assemblies (AWS.Tools ships its own AWSSDK.Core) never meets ours, whichever is imported first.
/// Assemblies of the runtime itself (System.*, netstandard) come from the default context, so types PowerShell and
/// S3Mount exchange stay one type.
/// </summary>
public sealed class S3MountLoadContext : AssemblyLoadContext
{
    private static readonly HashSet<string> Runtime = new(
        ((AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string) ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(Path.GetFileNameWithoutExtension)
            .Where(n => n is not null)
            .Select(n => n!),
        StringComparer.OrdinalIgnoreCase);

    private readonly string _directory;

    public S3MountLoadContext(string directory)
        : base("S3Mount", isCollectible: false) => _directory = directory;

    /// <summary>The directory the module's assemblies are loaded from.</summary>
    public string Directory => _directory;

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (assemblyName.Name is null || Runtime.Contains(assemblyName.Name))
        {
            return null;
        }

        var path = Path.Combine(_directory, assemblyName.Name + ".dll");
        return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
    }
}

/// <summary>Installs the isolation once per process: S3Mount.dll (default context) finds S3Mount.Engine in <see cref="S3MountLoadContext"/>.</summary>
public static class DependencyIsolation
{
    private static readonly object Gate = new();
    private static S3MountLoadContext? s_context;

    /// <summary>The context, once installed.</summary>
    public static S3MountLoadContext? Context => s_context;

    /// <summary>Installs the resolver for <paramref name="directory"/> (the module's lib folder). Safe to call again.</summary>
    public static S3MountLoadContext Install(string directory)
    {
        lock (Gate)
        {
            if (s_context is null)
            {
                s_context = new S3MountLoadContext(Path.GetFullPath(directory));
                AssemblyLoadContext.Default.Resolving += Resolve;
            }

            return s_context;
        }
    }

    // Only the engine is resolved here: everything it needs is then loaded by its own context.
    private static Assembly? Resolve(AssemblyLoadContext context, AssemblyName name) =>
        name.Name == "S3Mount.Engine" && s_context is not null ? s_context.LoadFromAssemblyName(name) : null;
}
