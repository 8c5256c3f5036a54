using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using S3Mount.Engine.Fleet;
using S3Mount.FakeSsm;

namespace S3Mount.Ssm.Tests;

/// <summary>The real AWS CLI talks to the fake: proof that the fake speaks SSM's wire protocol, not just ours.</summary>
public class AwsCliTests
{
    private const string Aws = "/usr/bin/aws";

    private static bool Available()
    {
        if (File.Exists(Aws))
        {
            return true;
        }

        // In CI a missing CLI is a failure, not a skip.
        Assert.True(string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")), "CI is set but " + Aws + " is missing: apt-get install -y awscli");
        Assert.Skip(Aws + " is not installed (apt-get install -y awscli)");
        return false;
    }

    private static async Task<JsonElement> RunAws(FakeSsmServer fake, params string[] args)
    {
        var psi = new ProcessStartInfo(Aws) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--endpoint-url", fake.Endpoint.ToString().TrimEnd('/'), "--output", "json", "--no-cli-pager" }.Concat(args))
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["AWS_ACCESS_KEY_ID"] = "AKIDCLITEST000000001";
        psi.Environment["AWS_SECRET_ACCESS_KEY"] = "clisecret";
        psi.Environment["AWS_DEFAULT_REGION"] = "us-east-1";
        psi.Environment["AWS_CONFIG_FILE"] = "/dev/null";
        psi.Environment["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null";
        psi.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
        psi.Environment.Remove("AWS_PROFILE");
        using var p = Process.Start(psi)!;
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        var stdout = await so;
        Assert.True(p.ExitCode == 0, "aws " + string.Join(" ", args) + " exited " + p.ExitCode + ": " + await se);
        return JsonDocument.Parse(stdout.Length == 0 ? "{}" : stdout).RootElement.Clone();
    }

    [Fact]
    public async Task AwsCliSendsListsPagesAndGetsAgainstTheFake()
    {
        if (!Available())
        {
            return;
        }

        using var fake = new FakeSsmServer(new FakeSsmOptions { SecretKeys = new Dictionary<string, string> { ["AKIDCLITEST000000001"] = "clisecret" } });
        var ids = Enumerable.Range(0, 7).Select(Ssm.Id).ToList();
        foreach (var id in ids)
        {
            fake.AddInstance(id, new SimulatedInstance { Latency = TimeSpan.FromMilliseconds(1), Stdout = _ => "hello from fake\n" });
        }

        var commands = JsonSerializer.Serialize(new Dictionary<string, IReadOnlyList<string>> { ["commands"] = ScriptEncoding.ToCommands("echo hi\n") });
        var sent = await RunAws(fake, new[] { "ssm", "send-command", "--document-name", "AWS-RunShellScript", "--comment", "cli test", "--max-concurrency", "3", "--max-errors", "1", "--timeout-seconds", "60", "--parameters", commands, "--instance-ids" }.Concat(ids).ToArray());
        var commandId = sent.GetProperty("Command").GetProperty("CommandId").GetString()!;
        Assert.Equal(36, commandId.Length);
        Assert.Equal(7, sent.GetProperty("Command").GetProperty("TargetCount").GetInt32());
        Assert.Equal("3", sent.GetProperty("Command").GetProperty("MaxConcurrency").GetString());
        await fake.WaitIdleAsync(TimeSpan.FromSeconds(10));

        // --page-size 3 makes the CLI follow NextToken across 3 pages; all 7 come back.
        var all = await RunAws(fake, "ssm", "list-command-invocations", "--command-id", commandId, "--details", "--page-size", "3");
        var invocations = all.GetProperty("CommandInvocations").EnumerateArray().ToList();
        Assert.Equal(7, invocations.Count);
        Assert.Equal(ids.OrderBy(x => x), invocations.Select(i => i.GetProperty("InstanceId").GetString()).OrderBy(x => x));
        Assert.All(invocations, i => Assert.Equal("Success", i.GetProperty("Status").GetString()));
        Assert.All(invocations, i => Assert.Equal("hello from fake\n", i.GetProperty("CommandPlugins")[0].GetProperty("Output").GetString()));
        Assert.True(fake.Requests.Count(r => r.Operation == "ListCommandInvocations") >= 3);

        // --max-items 4 stops early and hands back a continuation token.
        var first = await RunAws(fake, "ssm", "list-command-invocations", "--command-id", commandId, "--max-items", "4", "--page-size", "3");
        Assert.Equal(4, first.GetProperty("CommandInvocations").GetArrayLength());
        var token = first.GetProperty("NextToken").GetString()!;
        var rest = await RunAws(fake, "ssm", "list-command-invocations", "--command-id", commandId, "--starting-token", token, "--page-size", "3");
        Assert.Equal(3, rest.GetProperty("CommandInvocations").GetArrayLength());

        var one = await RunAws(fake, "ssm", "get-command-invocation", "--command-id", commandId, "--instance-id", ids[2]);
        Assert.Equal("hello from fake\n", one.GetProperty("StandardOutputContent").GetString());
        Assert.Equal(0, one.GetProperty("ResponseCode").GetInt32());
        Assert.Equal("Success", one.GetProperty("Status").GetString());
        Assert.Matches("^\\d{4}-\\d\\d-\\d\\dT", one.GetProperty("ExecutionStartDateTime").GetString());

        var info = await RunAws(fake, "ssm", "describe-instance-information", "--filters", "Key=InstanceIds,Values=" + string.Join(",", ids), "--page-size", "5");
        Assert.Equal(7, info.GetProperty("InstanceInformationList").GetArrayLength());
        var listed = await RunAws(fake, "ssm", "list-commands", "--command-id", commandId);
        Assert.Equal("Success", listed.GetProperty("Commands")[0].GetProperty("Status").GetString());
        await RunAws(fake, "ssm", "cancel-command", "--command-id", commandId);
        Assert.All(fake.Requests, r => Assert.StartsWith("AWS4-HMAC-SHA256 Credential=AKIDCLITEST000000001/", r.Authorization));
    }
}
