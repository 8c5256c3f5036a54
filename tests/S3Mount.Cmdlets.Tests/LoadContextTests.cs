using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using S3Mount.Loader;

namespace S3Mount.Cmdlets.Tests;

[CollectionDefinition("load contexts", DisableParallelization = true)]
public sealed class LoadContextCollection
{
}

/// <summary>
/// What PowerShell 7 does when AWS.Tools (with its own AWSSDK.Core) is imported first and S3Mount second: the
/// default load context already holds another AWSSDK.Core, yet the cmdlets, the engine and S3Mount's AWS SDK all load
/// in S3Mount's own context, and only the loader lands in the default context (so the other import order is just as
/// safe). The real sessions are proven in tests/pester/LoadContext.Tests.ps1; this is the same in a plain process.
/// </summary>
[Collection("load contexts")]
public class LoadContextTests
{
    [Fact]
    public void The_module_and_its_AWS_SDK_load_in_their_own_context_beside_another_modules_AWSSDK_Core()
    {
        var other = CompileOtherAwsSdkCore();
        var loadedFirst = AssemblyLoadContext.Default.Assemblies.FirstOrDefault(a => a.GetName().Name == "AWSSDK.Core")
            ?? AssemblyLoadContext.Default.LoadFromStream(new MemoryStream(other));
        Assert.Equal(new Version(3, 3, 0, 0), loadedFirst.GetName().Version);

        var cmdlets = ModuleLoadContext.Initialize(Repo.Lib);
        var context = ModuleLoadContext.Instance!;
        Assert.Equal("S3Mount", cmdlets.GetName().Name);
        Assert.Same(context, AssemblyLoadContext.GetLoadContext(cmdlets));
        Assert.Same(cmdlets, ModuleLoadContext.Initialize(Repo.Lib));

        // What the cmdlet assembly references resolves in the module's context.
        var engine = context.LoadFromAssemblyName(new AssemblyName("S3Mount.Engine"));
        Assert.Same(context, AssemblyLoadContext.GetLoadContext(engine));

        // Engine code that needs AWSSDK.Core (credentials for SigV4) runs against S3Mount's copy.
        var settings = engine.GetType("S3Mount.Engine.Ssm.ResolvedAwsSettings", throwOnError: true)!
            .GetMethod("FromKeys")!.Invoke(null, new object?[] { "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", null, null })!;
        var credentials = settings.GetType().GetProperty("Credentials")!.GetValue(settings)!;
        var sdk = credentials.GetType().Assembly;
        Assert.Equal("AWSSDK.Core", sdk.GetName().Name);
        Assert.Equal(new Version(4, 0, 0, 0), sdk.GetName().Version);
        Assert.Same(context, AssemblyLoadContext.GetLoadContext(sdk));
        Assert.Equal(Path.GetFullPath(Path.Combine(Repo.Lib, "AWSSDK.Core.dll")), sdk.Location);

        // The other module's copy is untouched, and nothing of S3Mount's went into the default context.
        Assert.Same(loadedFirst, AssemblyLoadContext.Default.Assemblies.Single(a => a.GetName().Name == "AWSSDK.Core"));
        var ours = AssemblyLoadContext.Default.Assemblies
            .Where(a => !a.IsDynamic && a.Location.StartsWith(Path.GetFullPath(Repo.Lib), StringComparison.Ordinal))
            .Select(a => a.GetName().Name).ToList();
        Assert.Empty(ours);
    }

    [Fact]
    public void Runtime_assemblies_come_from_the_default_context()
    {
        ModuleLoadContext.Initialize(Repo.Lib);
        var json = ModuleLoadContext.Instance!.LoadFromAssemblyName(new AssemblyName("System.Text.Json"));
        Assert.Same(AssemblyLoadContext.Default, AssemblyLoadContext.GetLoadContext(json));
    }

    [Fact]
    public void The_loader_is_the_only_assembly_for_the_default_context_and_references_nothing_the_module_ships()
    {
        // module/S3Mount.psm1 adds exactly one assembly to the default context (Add-Type S3Mount.Loader.dll).
        var psm1 = File.ReadAllText(Path.Combine(Repo.ModuleOut, "module", "S3Mount.psm1"));
        var added = System.Text.RegularExpressions.Regex.Matches(psm1, @"Add-Type\s+-LiteralPath\s+\(Join-Path -Path \$lib -ChildPath '([^']+)'\)")
            .Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(new[] { "S3Mount.Loader.dll" }, added);

        using var pe = new System.Reflection.PortableExecutable.PEReader(File.OpenRead(Path.Combine(Repo.Lib, "S3Mount.Loader.dll")));
        var md = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(pe);
        var references = md.AssemblyReferences.Select(h => md.GetString(md.GetAssemblyReference(h).Name)).ToList();
        Assert.NotEmpty(references);
        Assert.All(references, r =>
        {
            Assert.False(File.Exists(Path.Combine(Repo.Lib, r + ".dll")), "the loader references " + r + ", which the module ships");
            Assert.DoesNotContain("AWSSDK", r, StringComparison.OrdinalIgnoreCase);
            Assert.True(r.StartsWith("System.", StringComparison.Ordinal) || r is "netstandard" or "mscorlib", "the loader references " + r);
        });
    }

    // A minimal AWSSDK.Core 3.3.0.0, as AWS.Tools 4.x ships it: same name, other version, other API.
    private static byte[] CompileOtherAwsSdkCore()
    {
        var source = "[assembly: System.Reflection.AssemblyVersion(\"3.3.0.0\")] namespace Amazon.Runtime { public abstract class AWSCredentials { public string Legacy => \"3.3\"; } }";
        var refs = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p) is "System.Runtime.dll" or "System.Private.CoreLib.dll" or "netstandard.dll")
            .Select(p => MetadataReference.CreateFromFile(p));
        var compilation = CSharpCompilation.Create("AWSSDK.Core", new[] { CSharpSyntaxTree.ParseText(source) }, refs, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        using var ms = new MemoryStream();
        var result = compilation.Emit(ms);
        Assert.True(result.Success, string.Join("\n", result.Diagnostics));
        return ms.ToArray();
    }
}
